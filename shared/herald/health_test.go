package herald

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCountsForHealth(t *testing.T) {
	plain := &Call{EntityType: EntityItem, EventType: "update"}
	operational := &Call{EntityType: EntityWebhook, EventType: OpFailing}
	tests := map[string]struct {
		call *Call
		att  Attempt
		want bool
	}{
		"success":                  {plain, Attempt{Success: true}, true},
		"http failure":             {plain, Attempt{ErrorKind: ErrKindHTTPStatus}, true},
		"timeout":                  {plain, Attempt{ErrorKind: ErrKindTimeout}, true},
		"template does not render": {plain, Attempt{ErrorKind: ErrKindRender}, true},
		"unusable secret":          {plain, Attempt{ErrorKind: ErrKindSigning}, true},
		"webhook disabled":         {plain, Attempt{ErrorKind: ErrKindDisabled}, false},
		"webhook deleted":          {plain, Attempt{ErrorKind: ErrKindNoWebhook}, false},
		"dead-lettered":            {plain, Attempt{ErrorKind: ErrKindDLQ}, false},
		"operational failure":      {operational, Attempt{ErrorKind: ErrKindHTTPStatus}, false},
		"operational success":      {operational, Attempt{Success: true}, false},
		"ping":                     {&Call{EntityType: EntityWebhook, EventType: OpPing}, Attempt{ErrorKind: ErrKindRefused}, false},
	}
	for name, tc := range tests {
		if got := CountsForHealth(tc.call, tc.att); got != tc.want {
			t.Errorf("%s: got %v, want %v", name, got, tc.want)
		}
	}
}

func TestExhaustedBy(t *testing.T) {
	failed := func(et string) *Call { return &Call{EntityType: et, Status: StatusFailed} }
	tests := map[string]struct {
		call    *Call
		att     Attempt
		trigger string
		want    bool
	}{
		"last retry failed":             {failed(EntityItem), Attempt{ErrorKind: ErrKindHTTPStatus}, TriggerAuto, true},
		"first attempt without retries": {failed(EntityItem), Attempt{ErrorKind: ErrKindTimeout}, TriggerFirst, true},
		"a retry is still due":          {&Call{EntityType: EntityItem, Status: StatusRescheduled}, Attempt{ErrorKind: ErrKindHTTPStatus}, TriggerAuto, false},
		"a failed resend":               {failed(EntityItem), Attempt{ErrorKind: ErrKindHTTPStatus}, TriggerManual, false},
		"stopped by a disabled webhook": {failed(EntityItem), Attempt{ErrorKind: ErrKindDisabled}, TriggerAuto, false},
		"an operational call":           {failed(EntityWebhook), Attempt{ErrorKind: ErrKindHTTPStatus}, TriggerAuto, false},
	}
	for name, tc := range tests {
		if got := ExhaustedBy(tc.call, tc.att, tc.trigger); got != tc.want {
			t.Errorf("%s: got %v, want %v", name, got, tc.want)
		}
	}
}

func TestHealthStateDecisions(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC)
	t.Run("failing once per streak, at the fourth failure", func(t *testing.T) {
		for n := 1; n <= 6; n++ {
			st := HealthState{ConsecutiveFailures: n, StreakStart: t0}
			if got, want := st.FailingDue(), n >= FailingAfter; got != want {
				t.Errorf("%d failures: FailingDue %v, want %v", n, got, want)
			}
			st.FailingRaisedFor = t0
			if st.FailingDue() {
				t.Errorf("%d failures: due again after it was raised for the streak", n)
			}
			st.StreakStart = t0.Add(time.Hour) // a new streak
			if got, want := st.FailingDue(), n >= FailingAfter; got != want {
				t.Errorf("%d failures of a new streak: FailingDue %v, want %v", n, got, want)
			}
		}
	})
	t.Run("exhausted once per hour", func(t *testing.T) {
		st := HealthState{}
		if !st.ExhaustedDue(t0) {
			t.Error("never raised: not due")
		}
		st.ExhaustedHour = Hour(t0)
		if st.ExhaustedDue(t0.Add(29 * time.Minute)) {
			t.Error("due again within the hour")
		}
		if !st.ExhaustedDue(t0.Add(30 * time.Minute)) {
			t.Error("not due in the next hour")
		}
	})
	t.Run("auto-disable after the window, never with 0", func(t *testing.T) {
		window := 120 * time.Hour
		st := HealthState{ConsecutiveFailures: 40, StreakStart: t0}
		tests := []struct {
			window time.Duration
			at     time.Time
			want   bool
		}{
			{window, t0.Add(window - time.Millisecond), false},
			{window, t0.Add(window), true},
			{window, t0.Add(200 * time.Hour), true},
			{0, t0.Add(10000 * time.Hour), false},
			{30 * time.Second, t0.Add(31 * time.Second), true},
		}
		for _, tc := range tests {
			if got := st.AutoDisableDue(tc.window, tc.at); got != tc.want {
				t.Errorf("window %v, %v after the streak began: got %v, want %v", tc.window, tc.at.Sub(t0), got, tc.want)
			}
		}
		if (HealthState{}).AutoDisableDue(window, t0.Add(1000*time.Hour)) {
			t.Error("due without a streak (the last attempt succeeded)")
		}
	})
}

func TestBuildHealth(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC)
	start := WindowStart(now)
	if want := time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC); !start.Equal(want) {
		t.Fatalf("window starts %v, want %v", start, want)
	}
	streak := now.Add(-90 * time.Minute)
	st := HealthState{ConsecutiveFailures: 5, StreakStart: streak, LastSuccess: now.Add(-3 * time.Hour),
		Hours: map[time.Time]HourCounts{
			start.Add(-time.Hour): {Successes: 100, Failures: 100}, // before the window
			start:                 {Successes: 1, Failures: 2},
			Hour(now):             {Failures: 3},
		}}
	firsts := FirstSuccesses{Newest: now.Add(-2 * time.Hour), Hours: map[time.Time]int{
		start.Add(-time.Hour): 50, start.Add(5 * time.Hour): 7, Hour(now).Add(-2 * time.Hour): 4,
	}}
	h := BuildHealth(st, firsts, now)
	if h.Successes24h != 1+7+4 || h.Failures24h != 2+3 || h.ConsecutiveFailures != 5 {
		t.Errorf("got %d successes, %d failures, %d in a row; want 12, 5, 5", h.Successes24h, h.Failures24h, h.ConsecutiveFailures)
	}
	if h.FailingSince == nil || !h.FailingSince.Equal(streak) {
		t.Errorf("failing since %v, want %v", h.FailingSince, streak)
	}
	if h.LastSuccessAt == nil || !h.LastSuccessAt.Equal(firsts.Newest) {
		t.Errorf("last success %v, want the newer of the two, %v", h.LastSuccessAt, firsts.Newest)
	}
	if len(h.Hours) != 24 || !h.Hours[0].Start.Equal(start) || !h.Hours[23].Start.Equal(Hour(now)) {
		t.Fatalf("hours: %d, from %v to %v", len(h.Hours), h.Hours[0].Start, h.Hours[len(h.Hours)-1].Start)
	}
	if h.Hours[23].Failures != 3 || h.Hours[5].Successes != 7 || h.Hours[0].Successes != 1 {
		t.Errorf("hours %+v", h.Hours)
	}

	healthy := BuildHealth(HealthState{}, FirstSuccesses{}, now)
	if healthy.FailingSince != nil || healthy.LastSuccessAt != nil || healthy.Successes24h != 0 || len(healthy.Hours) != 24 {
		t.Errorf("a webhook without attempts: %+v", healthy)
	}
}

func TestOperationalEvent(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC)
	user, pw := "deploy", "hunter2-basic"
	payload := `{"token":"{{entity.id}}"}`
	w := &Webhook{ID: "01KAZW0000000000000000000A", ProjectID: "205", Name: "Deploy",
		URL: "https://hooks.example.com/services/T000/B000/secret-path?token=abc", Enabled: true, AutoRetry: true,
		Headers: map[string]string{"Authorization": "Bearer api-key-123"}, CustomPayload: &payload,
		HTTPBasicUser: &user, HTTPBasicPassword: &pw, Secret: Secret{Current: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"},
		Events: []Trigger{{EntityType: EntityItem, EventTypes: []string{"publish"}}}}
	status := 503
	sent := at.Add(-time.Minute)
	c := &Call{ID: "01KAZC0000000000000000000A", ProjectID: "205", WebhookID: w.ID, EntityType: EntityItem, EventType: "publish",
		EventID: "evt-1", CreatedAt: at.Add(-time.Hour), Status: StatusRescheduled, LastSentAt: &sent, ResponseStatus: &status,
		Attempts: []Attempt{{ErrorKind: ErrKindHTTPStatus, Error: "the receiver said Bearer api-key-123"}}}
	st := &HealthState{ConsecutiveFailures: 4, StreakStart: at.Add(-10 * time.Minute)}

	ev, subject, err := NewOperationalEvent(OpFailing, w, st, c, at, at)
	if err != nil {
		t.Fatal(err)
	}
	if ev.EntityType != EntityWebhook || ev.EventType != OpFailing || ev.ProjectID != "205" || !ev.EventTriggeredAt.Equal(at) {
		t.Errorf("event %+v", ev)
	}
	if subject.EntityType != EntityWebhook || subject.EventType != OpFailing || subject.EntityID != w.ID {
		t.Errorf("subject %+v", subject)
	}
	raw := string(ev.Entity) + string(ev.RelatedEntities)
	for _, secret := range []string{pw, user, w.Secret.Current, "api-key-123", "secret-path", "token=abc", payload} {
		if strings.Contains(raw, secret) {
			t.Errorf("the event carries %q: %s", secret, raw)
		}
	}
	var entity struct {
		ID         string
		Attributes struct {
			Name    string
			URL     string
			Enabled bool
			Health  struct {
				FailingSince        string `json:"failing_since"`
				ConsecutiveFailures int    `json:"consecutive_failures"`
			}
		}
	}
	if err := json.Unmarshal(ev.Entity, &entity); err != nil {
		t.Fatal(err)
	}
	if entity.ID != w.ID || entity.Attributes.Name != "Deploy" || entity.Attributes.URL != "https://hooks.example.com" ||
		entity.Attributes.Health.ConsecutiveFailures != 4 || entity.Attributes.Health.FailingSince != "2026-11-26T10:20:00.000Z" {
		t.Errorf("entity %s", ev.Entity)
	}
	var related []struct {
		ID         string
		Type       string
		Attributes map[string]any
	}
	if err := json.Unmarshal(ev.RelatedEntities, &related); err != nil {
		t.Fatal(err)
	}
	if len(related) != 1 || related[0].ID != c.ID || related[0].Type != "webhook_call" ||
		related[0].Attributes["status"] != "rescheduled" || related[0].Attributes["response_status"] != 503.0 ||
		related[0].Attributes["error_kind"] != ErrKindHTTPStatus {
		t.Errorf("related entities %s", ev.RelatedEntities)
	}

	// Its calls carry the default payload's shape, entity and call included.
	call := NewCall("01KAZC0000000000000000000B", &Webhook{ID: "01KAZW0000000000000000000B"}, ev, at, 30*24*time.Hour)
	var body map[string]any
	if err := json.Unmarshal(DefaultPayload(call, 0), &body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"site_id", "webhook_id", "webhook_call_id", "environment", "is_environment_primary", "event_triggered_at",
		"attempted_auto_retries_count", "entity_type", "event_type", "entity", "related_entities"} {
		if _, ok := body[k]; !ok {
			t.Errorf("the payload has no %s: %v", k, body)
		}
	}
	if body["entity_type"] != EntityWebhook || body["entity"].(map[string]any)["id"] != w.ID {
		t.Errorf("payload %v", body)
	}

	ping, _, err := NewOperationalEvent(OpPing, w, nil, c, at, at)
	if err != nil {
		t.Fatal(err)
	}
	if string(ping.RelatedEntities) != "[]" || ping.EventID != "herald:ping:"+w.ID+":"+c.ID {
		t.Errorf("ping: id %s, related %s", ping.EventID, ping.RelatedEntities)
	}
	if _, _, err := NewOperationalEvent("update", w, st, c, at, at); err == nil {
		t.Error("an unknown operational event type was accepted")
	}
}

func TestOperationalEventIDs(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC)
	id := func(kind string, key time.Time) string { return OperationalEventID(kind, "W", key, "C") }
	if id(OpFailing, at) != id(OpFailing, at.Add(29*time.Minute)) || id(OpFailing, at) == id(OpFailing, at.Add(30*time.Minute)) {
		t.Error("failing is not named by the hour")
	}
	if id(OpExhausted, at) == id(OpFailing, at) {
		t.Error("exhausted and failing share an id")
	}
	if id(OpDisabled, at) == id(OpDisabled, at.Add(time.Millisecond)) || id(OpRecovered, at) != OperationalEventID(OpRecovered, "W", at, "another call") {
		t.Error("disabled and recovered are not named by their streak or incident")
	}
	if OperationalEventID(OpFailing, "W1", at, "") == OperationalEventID(OpFailing, "W2", at, "") {
		t.Error("two webhooks share an id")
	}
	if n := len(OperationalEventID(OpRecovered, "01KAZW0000000000000000000A", at, "")); n > MaxEventIDBytes {
		t.Errorf("an id of %d bytes is over the event id limit", n)
	}
}

func TestOperationalEventNeverGoesToItsWebhook(t *testing.T) {
	subscribe := trig(EntityWebhook, []string{OpFailing, OpRecovered})
	hooks := []*Webhook{hook("failing-one", true, subscribe), hook("ops", true, subscribe), hook("other", true, trig(EntityItem, []string{"update"}))}
	got := ids(NewMatcher(hooks).Match(&Subject{EntityType: EntityWebhook, EventType: OpFailing, EntityID: "failing-one"}))
	if want := []string{"ops"}; !slices.Equal(got, want) {
		t.Errorf("matched %v, want %v", got, want)
	}
	// A record whose id happens to be a webhook's id is matched as ever.
	recordHooks := []*Webhook{hook("293467", true, trig(EntityItem, []string{"update"}))}
	if got := ids(NewMatcher(recordHooks).Match(recordUpdate())); !slices.Equal(got, []string{"293467"}) {
		t.Errorf("a record event: matched %v", got)
	}
}

func TestPingIsNeverRetried(t *testing.T) {
	c := &Call{EntityType: EntityWebhook, EventType: OpPing, ExpiresAt: now.Add(30 * 24 * time.Hour)}
	c.Settle(Attempt{StartedAt: now, ErrorKind: ErrKindHTTPStatus}, &Webhook{AutoRetry: true}, TriggerFirst, 0, time.Time{}, now, "")
	if c.Status != StatusFailed || c.NextAuto != nil || c.NextRetryAt != nil {
		t.Errorf("a failed ping: status %s, next %v; want failed, no retry", c.Status, c.NextAuto)
	}
}

func TestEnablingAndDisablingRecordWhy(t *testing.T) {
	off := validInput()
	off.Enabled = Some(false)
	w, err := NewWebhook("p1", "w1", off, now)
	if err != nil {
		t.Fatal(err)
	}
	if w.DisabledReason != DisabledManual || w.DisabledAt == nil || !w.DisabledAt.Equal(now) {
		t.Errorf("created disabled: reason %q at %v", w.DisabledReason, w.DisabledAt)
	}
	on, err := w.Update(WebhookInput{Enabled: Some(true)}, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !on.ReEnables(w) || on.DisabledReason != "" || on.DisabledAt != nil {
		t.Errorf("re-enabled: reenables %v, reason %q at %v", on.ReEnables(w), on.DisabledReason, on.DisabledAt)
	}
	auto := *on
	at := now.Add(2 * time.Hour)
	auto.Enabled, auto.DisabledReason, auto.DisabledAt = false, DisabledAuto, &at
	renamed, err := auto.Update(WebhookInput{Name: Some("Fixed")}, now.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if renamed.Enabled || renamed.DisabledReason != DisabledAuto || renamed.ReEnables(&auto) {
		t.Errorf("an update that leaves enabled alone changed why it is disabled: %q", renamed.DisabledReason)
	}
	again, _ := on.Update(WebhookInput{Enabled: Some(true)}, now)
	if again.ReEnables(on) {
		t.Error("enabling an enabled webhook counts as re-enabling it")
	}
}
