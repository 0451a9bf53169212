package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
)

// TestHealthStreaksAndIncidents walks a webhook's health item through a
// failure streak, what is raised for it, a success and a new streak.
func TestHealthStreaksAndIncidents(t *testing.T) {
	store, _, _ := newStore(t)
	ctx := context.Background()
	w := newWebhook(t, "p1", "Deploy")
	at := t0.Add(30 * time.Minute)
	var st herald.HealthState
	var err error
	for i := 1; i <= 4; i++ {
		if st, err = store.RecordHealthFailure(ctx, "p1", w.ID, at.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if st.ConsecutiveFailures != i {
			t.Fatalf("after %d failures: %d in a row", i, st.ConsecutiveFailures)
		}
	}
	first := at.Add(time.Minute)
	if !st.StreakStart.Equal(first) || !st.Incident.Equal(first) || st.Reported || !st.FailingDue() {
		t.Errorf("after 4 failures: %+v; want a streak and an incident since the first, failing due", st)
	}
	if got := st.Hours[herald.Hour(at)]; got.Failures != 4 || got.Successes != 0 {
		t.Errorf("hour counts %+v", st.Hours)
	}
	if err := store.MarkFailingRaised(ctx, "p1", w.ID, first); err != nil {
		t.Fatal(err)
	}
	st, _ = store.RecordHealthFailure(ctx, "p1", w.ID, at.Add(5*time.Minute))
	if st.FailingDue() || !st.Reported || st.ConsecutiveFailures != 5 {
		t.Errorf("after failing was raised: %+v", st)
	}
	// A mark for a streak that is over records nothing.
	if err := store.MarkFailingRaised(ctx, "p1", w.ID, at); err != nil {
		t.Fatal(err)
	}

	// A retry's success ends the streak, counts in its hour, leaves the
	// incident open for `recovered`.
	st, err = store.RecordHealthSuccess(ctx, "p1", w.ID, at.Add(6*time.Minute), true)
	if err != nil {
		t.Fatal(err)
	}
	if st.ConsecutiveFailures != 0 || !st.StreakStart.IsZero() || !st.FailingRaisedFor.IsZero() ||
		!st.Incident.Equal(first) || !st.Reported || !st.LastSuccess.Equal(at.Add(6*time.Minute)) {
		t.Errorf("after a success: %+v", st)
	}
	if got := st.Hours[herald.Hour(at)]; got.Successes != 1 || got.Failures != 5 {
		t.Errorf("hour counts after a success: %+v", got)
	}
	if ok, _, err := store.CloseIncident(ctx, "p1", w.ID, at); err != nil || ok {
		t.Errorf("closing another incident: %v, %v", ok, err)
	}
	if ok, reported, err := store.CloseIncident(ctx, "p1", w.ID, first); err != nil || !ok || !reported {
		t.Errorf("closing the incident: closed %v, reported %v, %v; want true, true", ok, reported, err)
	}
	if ok, _, _ := store.CloseIncident(ctx, "p1", w.ID, first); ok {
		t.Error("closed twice")
	}
	if err := store.SetRecoveredDue(ctx, "p1", w.ID, first); err != nil {
		t.Fatal(err)
	}
	if st, _ = store.RecordHealthSuccess(ctx, "p1", w.ID, at.Add(7*time.Minute), false); !st.RecoveredDue.Equal(first) {
		t.Errorf("a recovered owed: %v", st.RecoveredDue)
	}
	if err := store.ClearRecoveredDue(ctx, "p1", w.ID, first); err != nil {
		t.Fatal(err)
	}
	if st, _ = store.RecordHealthSuccess(ctx, "p1", w.ID, at.Add(8*time.Minute), false); !st.RecoveredDue.IsZero() {
		t.Errorf("a recovered raised is still owed: %v", st.RecoveredDue)
	}

	// Exhausted is marked for the hour, and only during an incident.
	if err := store.MarkExhaustedRaised(ctx, "p1", w.ID, at); err != nil {
		t.Fatal(err)
	}
	next := at.Add(50 * time.Hour)
	st, _ = store.RecordHealthFailure(ctx, "p1", w.ID, next)
	if !st.ExhaustedDue(at) || st.Reported || !st.Incident.Equal(next) || st.ConsecutiveFailures != 1 {
		t.Errorf("a new streak after no incident: %+v", st)
	}
	if err := store.MarkExhaustedRaised(ctx, "p1", w.ID, next); err != nil {
		t.Fatal(err)
	}
	st, _ = store.RecordHealthFailure(ctx, "p1", w.ID, next.Add(time.Minute))
	if st.ExhaustedDue(next) || !st.Reported {
		t.Errorf("exhausted raised this hour: %+v", st)
	}
	// Counts of hours before the window are dropped as the item is written.
	for h := range st.Hours {
		if h.Before(herald.WindowStart(next)) {
			t.Errorf("an hourly count from %v is still kept at %v", h, next)
		}
	}
}

// TestIncidentMarkAndAutoDisable: delivery's writes to the webhook item are
// conditional on what it decided from, grow its version (so an API update
// that read it before is re-applied rather than written over it), and
// never bring back a deleted webhook; re-enabling ends the streak.
func TestIncidentMarkAndAutoDisable(t *testing.T) {
	store, _, clock := newStore(t)
	ctx := context.Background()
	w := newWebhook(t, "p1", "Deploy")
	if err := store.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	read := func() *herald.Webhook {
		t.Helper()
		got, err := store.GetWebhook(ctx, "p1", w.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	st, _ := store.RecordHealthFailure(ctx, "p1", w.ID, t0)
	if err := store.SetIncidentMarker(ctx, "p1", w.ID, st.Incident); err != nil {
		t.Fatal(err)
	}
	if err := store.SetIncidentMarker(ctx, "p1", w.ID, st.Incident); err != nil {
		t.Fatal(err)
	}
	marked := read()
	if !marked.Incident.Equal(t0) || marked.Version != 2 {
		t.Errorf("marked: incident %v, version %d; want %v, 2 (set once)", marked.Incident, marked.Version, t0)
	}
	renamed, _ := w.Update(herald.WebhookInput{Name: herald.Some("Stale")}, t0)
	if err := store.UpdateWebhook(ctx, w, renamed); herald.ErrorCode(err) != herald.ECONFLICT {
		t.Errorf("an update from before the mark: %v; want ECONFLICT", err)
	}

	if ok, err := store.AutoDisable(ctx, "p1", w.ID, t0.Add(time.Hour), t0.Add(120*time.Hour)); err != nil || ok {
		t.Errorf("auto-disable for another streak: %v, %v", ok, err)
	}
	at := t0.Add(120 * time.Hour)
	if ok, err := store.AutoDisable(ctx, "p1", w.ID, t0, at); err != nil || !ok {
		t.Fatalf("auto-disable: %v, %v", ok, err)
	}
	if ok, _ := store.AutoDisable(ctx, "p1", w.ID, t0, at); ok {
		t.Error("disabled twice")
	}
	off := read()
	if off.Enabled || off.DisabledReason != herald.DisabledAuto || off.DisabledAt == nil || !off.DisabledAt.Equal(at) ||
		off.Version != 3 || !off.Incident.Equal(t0) {
		t.Errorf("auto-disabled: %+v", off)
	}

	clock.Set(at.Add(time.Hour))
	on, err := off.Update(herald.WebhookInput{Enabled: herald.Some(true)}, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.UpdateWebhook(ctx, off, on); err != nil {
		t.Fatal(err)
	}
	back := read()
	if !back.Enabled || back.DisabledReason != "" || back.DisabledAt != nil || !back.Incident.Equal(t0) {
		t.Errorf("re-enabled: %+v", back)
	}
	st, _ = store.RecordHealthFailure(ctx, "p1", w.ID, clock.Now())
	if st.ConsecutiveFailures != 1 || !st.StreakStart.Equal(clock.Now()) || !st.Incident.Equal(t0) || !st.Reported {
		t.Errorf("a failure after re-enabling: %+v; want a new streak in the same, reported incident", st)
	}
	if st.AutoDisableDue(120*time.Hour, clock.Now().Add(time.Minute)) {
		t.Error("re-enabled, it would be disabled again at once")
	}

	if err := store.ClearIncidentMarker(ctx, "p1", w.ID, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if !read().Incident.Equal(t0) {
		t.Error("another incident's clear removed the mark")
	}
	if err := store.ClearIncidentMarker(ctx, "p1", w.ID, t0); err != nil {
		t.Fatal(err)
	}
	cur := read()
	if !cur.Incident.IsZero() {
		t.Errorf("cleared: incident %v", cur.Incident)
	}

	if err := store.DeleteWebhook(ctx, cur); err != nil {
		t.Fatal(err)
	}
	if err := store.SetIncidentMarker(ctx, "p1", w.ID, t0); err != nil {
		t.Fatal(err)
	}
	if ok, _ := store.AutoDisable(ctx, "p1", w.ID, clock.Now(), clock.Now().Add(200*time.Hour)); ok {
		t.Error("a deleted webhook was disabled")
	}
	if _, err := store.GetWebhook(ctx, "p1", w.ID); herald.ErrorCode(err) != herald.ENOTFOUND {
		t.Errorf("a deleted webhook came back: %v", err)
	}
	if h, _ := store.WebhookHealth(ctx, "p1", []string{w.ID}); h[w.ID].ConsecutiveFailures != 0 || h[w.ID].FailingSince != nil {
		t.Errorf("a deleted webhook's health is left: %+v", h[w.ID])
	}
}

// firstAttempt records a call's first attempt as delivery does for a job
// fresh from ingest.
func firstAttempt(t *testing.T, store *dynamo.Store, c *herald.Call, at time.Time, success bool) {
	t.Helper()
	at = at.Truncate(time.Millisecond)
	c.AttemptCount = 1
	att := herald.Attempt{Number: 1, Trigger: herald.TriggerFirst, StartedAt: at, Success: success}
	if !success {
		att.ErrorKind = herald.ErrKindHTTPStatus
	}
	c.Attempts = append(c.Attempts, att)
	c.LastSentAt = &at
	rec := c.Settle(att, &herald.Webhook{AutoRetry: true}, herald.TriggerFirst, 0, time.Time{}, at, "")
	if err := store.RecordAttempt(context.Background(), c, herald.FirstAttemptLease, rec); err != nil {
		t.Fatal(err)
	}
}

// TestFirstAttemptSuccessesComeFromTheLog: what a healthy first attempt
// does not write is counted from the activity log when health is read:
// only calls whose first attempt succeeded (not those that needed a retry,
// not operational calls), within the window, per webhook; closed hours are
// kept and read back rather than counted again.
func TestFirstAttemptSuccessesComeFromTheLog(t *testing.T) {
	store, env, clock := newStore(t)
	ctx := context.Background()
	now := t0.Add(30 * time.Minute) // 10:30: 10:00 is open, 9:00 and before are closed
	a, b := newWebhook(t, "p1", "a"), newWebhook(t, "p1", "b")
	ok := func(hook string, at time.Time) *herald.Call {
		c := putCall(t, store, "p1", hook, at, "item", "update")
		firstAttempt(t, store, c, at.Add(time.Second), true)
		return c
	}
	ok(a.ID, now.Add(-3*time.Hour))
	ok(a.ID, now.Add(-3*time.Hour+time.Minute))
	ok(a.ID, now.Add(-26*time.Hour)) // before the window, within the lookback
	newest := ok(a.ID, now.Add(-5*time.Minute))
	ok(b.ID, now.Add(-2*time.Hour))
	ok(a.ID, now.Add(-9*24*time.Hour)) // before the lookback
	failed := putCall(t, store, "p1", a.ID, now.Add(-time.Hour), "item", "update")
	firstAttempt(t, store, failed, now.Add(-time.Hour), false)
	ops := putCall(t, store, "p1", a.ID, now.Add(-time.Hour), herald.EntityWebhook, herald.OpFailing)
	firstAttempt(t, store, ops, now.Add(-time.Hour), true)
	putCall(t, store, "p1", a.ID, now.Add(-time.Minute), "item", "update") // pending
	// A retry's success is the health item's to count.
	if _, err := store.RecordHealthSuccess(ctx, "p1", a.ID, now.Add(-time.Hour), true); err != nil {
		t.Fatal(err)
	}

	clock.Set(now)
	h, err := store.WebhookHealth(ctx, "p1", []string{a.ID, b.ID, "01KAZNEVERUSED000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	ha := h[a.ID]
	if ha.Successes24h != 2+1+1 || ha.Failures24h != 0 {
		t.Errorf("a: %d successes, %d failures in 24 h; want 4 (three first attempts, a retry), 0", ha.Successes24h, ha.Failures24h)
	}
	wantLast := newest.CreatedAt.Add(time.Second).Truncate(time.Millisecond)
	if ha.LastSuccessAt == nil || !ha.LastSuccessAt.Equal(wantLast) {
		t.Errorf("a: last success %v, want %v", ha.LastSuccessAt, wantLast)
	}
	byHour := map[time.Time]int{}
	for _, hh := range ha.Hours {
		byHour[hh.Start] = hh.Successes
	}
	if byHour[herald.Hour(now.Add(-3*time.Hour))] != 2 || byHour[herald.Hour(now)] != 1 || byHour[herald.Hour(now.Add(-time.Hour))] != 1 {
		t.Errorf("a by hour: %v", byHour)
	}
	if hb := h[b.ID]; hb.Successes24h != 1 || hb.LastSuccessAt == nil {
		t.Errorf("b: %+v", hb)
	}
	if hn := h["01KAZNEVERUSED000000000000"]; hn.Successes24h != 0 || hn.LastSuccessAt != nil || len(hn.Hours) != 24 {
		t.Errorf("a webhook without calls: %+v", hn)
	}

	// Closed hours were kept; a call written into one afterwards (which
	// ingest never does) is not counted: the kept count is read.
	kept, err := env.DB.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(env.Table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "K#p1#firsts"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if kept.Count < 24 {
		t.Errorf("%d hours kept; want the closed hours of the lookback", kept.Count)
	}
	ok(b.ID, now.Add(-2*time.Hour+time.Minute))
	again, err := store.WebhookHealth(ctx, "p1", []string{b.ID})
	if err != nil {
		t.Fatal(err)
	}
	if again[b.ID].Successes24h != 1 {
		t.Errorf("b after a late write into a kept hour: %d; want the kept 1", again[b.ID].Successes24h)
	}
	// A new call in the open hour is counted live.
	ok(b.ID, now.Add(-time.Minute))
	again, _ = store.WebhookHealth(ctx, "p1", []string{b.ID})
	if again[b.ID].Successes24h != 2 {
		t.Errorf("b after a call in the open hour: %d; want 2", again[b.ID].Successes24h)
	}
}

// TestHealthCountsFailuresAndRetries: failures and retries' successes come
// from the health item, first attempts from the log, and the two add up
// per hour.
func TestHealthCountsFailuresAndRetries(t *testing.T) {
	store, _, clock := newStore(t)
	ctx := context.Background()
	w := newWebhook(t, "p1", "a")
	clock.Set(t0.Add(30 * time.Minute))
	for i := range 3 {
		if _, err := store.RecordHealthFailure(ctx, "p1", w.ID, clock.Now().Add(-time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	h, err := store.WebhookHealth(ctx, "p1", []string{w.ID})
	if err != nil {
		t.Fatal(err)
	}
	got := h[w.ID]
	if got.Failures24h != 3 || got.ConsecutiveFailures != 3 || got.FailingSince == nil || !got.FailingSince.Equal(clock.Now()) {
		t.Errorf("after three failures: %+v", got)
	}
	if _, err := store.RecordHealthSuccess(ctx, "p1", w.ID, clock.Now(), false); err != nil {
		t.Fatal(err)
	}
	h, _ = store.WebhookHealth(ctx, "p1", []string{w.ID})
	if got := h[w.ID]; got.FailingSince != nil || got.ConsecutiveFailures != 0 || got.Failures24h != 3 || got.Successes24h != 0 {
		t.Errorf("after a first attempt's success that ended the streak (counted from the log, not here): %+v", got)
	}
}
