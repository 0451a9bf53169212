package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/test/testenv"
)

// jobs drains the delivery queue.
func (a *api) jobs() []herald.Job {
	a.t.Helper()
	var out []herald.Job
	for {
		res, err := a.env.SQS.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{
			QueueUrl: aws.String(a.env.QueueURL), MaxNumberOfMessages: 10, VisibilityTimeout: 60,
		})
		if err != nil {
			a.t.Fatal(err)
		}
		if len(res.Messages) == 0 {
			return out
		}
		for _, m := range res.Messages {
			j, err := herald.DecodeJob([]byte(*m.Body))
			if err != nil {
				a.t.Fatal(err)
			}
			out = append(out, j)
		}
	}
}

// TestWebhookHealthAttributes: every webhook read shows health,
// disabled_reason and disabled_at; a single read adds the chart's hours;
// they are read only (sent back, as the DatoCMS client does, they change
// nothing), and enabling clears why a webhook was disabled.
func TestWebhookHealthAttributes(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	created := a.do(a.tokenP1, "POST", "/webhooks", webhookDoc(nil))
	if created.status != 201 {
		t.Fatalf("create: %d %s", created.status, created.raw)
	}
	id := dataID(created)
	attrs := dataAttrs(created)
	health, _ := attrs["health"].(map[string]any)
	want := map[string]any{"last_success_at": nil, "failing_since": nil, "consecutive_failures": 0.0, "successes_24h": 0.0, "failures_24h": 0.0}
	for k, v := range want {
		if got, ok := health[k]; !ok || got != v {
			t.Errorf("created: health.%s = %v (present %v); want %v", k, got, ok, v)
		}
	}
	if v, ok := attrs["disabled_reason"]; !ok || v != nil || attrs["disabled_at"] != nil {
		t.Errorf("created: disabled_reason %v (present %v), disabled_at %v", v, ok, attrs["disabled_at"])
	}

	failed := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Millisecond)
	for i := range 3 {
		if _, err := a.store.RecordHealthFailure(ctx, "p1", id, failed.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	one := a.do(a.tokenP1, "GET", "/webhooks/"+id, nil)
	h := dataAttrs(one)["health"].(map[string]any)
	if h["consecutive_failures"] != 3.0 || h["failures_24h"] != 3.0 || h["failing_since"] != failed.Format(herald.TimeFormat) {
		t.Errorf("after three failures: %v", h)
	}
	// The failures' hour is the last of the 24, or the one before in the
	// first ten minutes of an hour.
	hourly, _ := h["hourly"].([]any)
	inHour := -1.0
	for _, x := range hourly {
		if x.(map[string]any)["hour"] == failed.Truncate(time.Hour).Format(herald.TimeFormat) {
			inHour, _ = x.(map[string]any)["failures"].(float64)
		}
	}
	if len(hourly) != 24 || inHour != 3 {
		t.Errorf("hourly: %d hours, %v failures in the hour of %s; want 24 hours and 3: %v", len(hourly), inHour, failed, hourly)
	}
	list := a.do(a.tokenP1, "GET", "/webhooks", nil)
	lh := list.body["data"].([]any)[0].(map[string]any)["attributes"].(map[string]any)["health"].(map[string]any)
	if lh["consecutive_failures"] != 3.0 {
		t.Errorf("listed: %v", lh)
	}
	if _, ok := lh["hourly"]; ok {
		t.Error("the list carries every webhook's hours")
	}

	// Sent back whole, with made-up values for what is read only.
	back := dataAttrs(one)
	back["health"] = map[string]any{"consecutive_failures": 0}
	back["disabled_reason"], back["disabled_at"], back["enabled"] = "made up", "2020-01-01T00:00:00Z", false
	off := a.do(a.tokenP1, "PUT", "/webhooks/"+id, map[string]any{"data": map[string]any{"type": "webhook", "id": id, "attributes": back}})
	if off.status != 200 {
		t.Fatalf("put back: %d %s", off.status, off.raw)
	}
	oa := dataAttrs(off)
	if oa["enabled"] != false || oa["disabled_reason"] != herald.DisabledManual || oa["disabled_at"] == nil ||
		oa["health"].(map[string]any)["consecutive_failures"] != 3.0 {
		t.Errorf("disabled by hand, sending read-only values back: %v", oa)
	}
	on := a.do(a.tokenP1, "PUT", "/webhooks/"+id, map[string]any{"data": map[string]any{"type": "webhook", "attributes": map[string]any{"enabled": true}}})
	na := dataAttrs(on)
	if na["enabled"] != true || na["disabled_reason"] != nil || na["disabled_at"] != nil {
		t.Errorf("enabled again: %v", na)
	}
	if nh := na["health"].(map[string]any); nh["consecutive_failures"] != 0.0 || nh["failing_since"] != nil || nh["failures_24h"] != 3.0 {
		t.Errorf("re-enabling did not end the streak (and only the streak): %v", nh)
	}

	// The webhooks a call listing includes come without health (it would
	// cost a read per page).
	now := time.Now().UTC().Truncate(time.Millisecond)
	ev := &herald.Event{ProjectID: "p1", EventID: "evt-h", Environment: "main", EntityType: "item", EventType: "publish",
		EventTriggeredAt: now, Entity: json.RawMessage(`{"id":"1","type":"item"}`)}
	if _, err := a.store.CreateCall(ctx, herald.NewCall(herald.NewID(now), &herald.Webhook{ID: id}, ev, now, time.Hour)); err != nil {
		t.Fatal(err)
	}
	calls := a.do(a.tokenP1, "GET", "/webhook_calls", nil)
	inc := calls.body["included"].([]any)[0].(map[string]any)["attributes"].(map[string]any)
	if _, ok := inc["health"]; ok || inc["disabled_reason"] != nil {
		t.Errorf("an included webhook: %v", inc)
	}
}

// TestPing: a test send is a webhook/ping call of that webhook alone,
// pending, queued at once, and its payload is the webhook without secrets.
func TestPing(t *testing.T) {
	a := newAPI(t)
	r := a.do(a.tokenP1, "POST", "/webhooks", webhookDoc(map[string]any{"enabled": false,
		"http_basic_user": "u", "http_basic_password": "ping-basic-password", "url": "https://example.com/hooks/secret-path"}))
	id := dataID(r)
	a.jobs()
	before := a.env.Snapshot(a.t)
	if r := a.do(a.tokenP1, "POST", "/webhooks/"+herald.NewID(time.Now())+"/ping", nil); r.status != 404 {
		t.Errorf("ping of an unknown webhook: %d", r.status)
	}
	if r := a.do(a.tokenP2, "POST", "/webhooks/"+id+"/ping", nil); r.status != 404 {
		t.Errorf("ping with another project's token: %d", r.status)
	}
	if changed := before.Changed(a.env.Snapshot(a.t)); len(changed) > 0 {
		t.Errorf("refused pings changed %v", changed)
	}

	ping := a.do(a.tokenP1, "POST", "/webhooks/"+id+"/ping", nil)
	if ping.status != 201 {
		t.Fatalf("ping: %d %s", ping.status, ping.raw)
	}
	call := ping.body["data"].(map[string]any)
	ca := call["attributes"].(map[string]any)
	if call["type"] != "webhook_call" || ca["entity_type"] != "webhook" || ca["event_type"] != "ping" || ca["status"] != "pending" ||
		call["relationships"].(map[string]any)["webhook"].(map[string]any)["data"].(map[string]any)["id"] != id {
		t.Errorf("ping answered %s", ping.raw)
	}
	jobs := a.jobs()
	if len(jobs) != 1 || jobs[0].CallID != call["id"] || jobs[0].Trigger != herald.TriggerFirst || !jobs[0].Replay || jobs[0].WebhookID != id {
		t.Fatalf("queued %+v; want the ping's first attempt, claimed", jobs)
	}
	stored, err := a.store.GetCall(context.Background(), "p1", call["id"].(string))
	if err != nil || stored.EntityType != herald.EntityWebhook || stored.EventType != herald.OpPing {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	payload, _ := a.store.EventPayload(context.Background(), "p1", stored.EventID)
	for _, secret := range []string{"ping-basic-password", "secret-path", "whsec_"} {
		if strings.Contains(string(payload.Entity), secret) {
			t.Errorf("the ping's payload carries %q: %s", secret, payload.Entity)
		}
	}
	if !strings.Contains(string(payload.Entity), id) {
		t.Errorf("the ping's entity is not its webhook: %s", payload.Entity)
	}
}

// seedCall writes a call of webhook hook created at `at` whose first
// attempt failed (or succeeded).
func (a *api) seedCall(hook string, at time.Time, ok bool) string {
	a.t.Helper()
	at = at.Truncate(time.Millisecond)
	ev := &herald.Event{ProjectID: "p1", EventID: "evt-" + herald.NewID(at), Environment: "main", EntityType: "item", EventType: "publish",
		EventTriggeredAt: at, Entity: json.RawMessage(`{"id":"1","type":"item"}`)}
	c := herald.NewCall(herald.NewID(at), &herald.Webhook{ID: hook}, ev, at, 30*24*time.Hour)
	doc, _ := herald.MarshalPayload(c.Payload)
	ctx := context.Background()
	if _, _, err := a.store.ClaimEvent(ctx, "p1", ev.EventID, []herald.CallRef{{WebhookID: hook, CallID: c.ID}}, doc, c.ExpiresAt); err != nil {
		a.t.Fatal(err)
	}
	if _, err := a.store.CreateCall(ctx, c); err != nil {
		a.t.Fatal(err)
	}
	c.AttemptCount = 1
	att := herald.Attempt{Number: 1, Trigger: herald.TriggerFirst, StartedAt: at, Success: ok}
	if !ok {
		att.ErrorKind = herald.ErrKindHTTPStatus
	}
	c.Attempts = []herald.Attempt{att}
	c.LastSentAt = &at
	rec := c.Settle(att, &herald.Webhook{AutoRetry: false}, herald.TriggerFirst, 0, time.Time{}, at, "")
	if err := a.store.RecordAttempt(ctx, c, herald.FirstAttemptLease, rec); err != nil {
		a.t.Fatal(err)
	}
	return c.ID
}

func bulkAttrs(t *testing.T, r response) map[string]any {
	t.Helper()
	data, ok := r.body["data"].(map[string]any)
	if !ok || data["type"] != "webhook_call_bulk_resend" {
		t.Fatalf("bulk resend answered %d %s", r.status, r.raw)
	}
	return data["attributes"].(map[string]any)
}

// TestBulkResend: a filter's calls are resent, each as a single resend
// (a manual job per call, same call id), after a dry run that counts them;
// the same request again within the window queues nothing twice, and
// after it queues them again; more than the bound is refused, as is any
// bad parameter, and a refused request changes nothing.
func TestBulkResend(t *testing.T) {
	clock := testenv.NewClock(time.Now().UTC())
	a := newAPIWith(t, clock, 5)
	hookA := dataID(a.do(a.tokenP1, "POST", "/webhooks", webhookDoc(map[string]any{"name": "a"})))
	hookB := dataID(a.do(a.tokenP1, "POST", "/webhooks", webhookDoc(map[string]any{"name": "b", "enabled": false})))
	start := clock.Now().Add(-time.Hour)
	var failedA []string
	for i := range 3 {
		failedA = append(failedA, a.seedCall(hookA, start.Add(time.Duration(i)*time.Second), false))
	}
	a.seedCall(hookA, start.Add(time.Minute), true)
	a.seedCall(hookB, start, false)
	gone := herald.NewID(start)
	a.seedCall(gone, start, false)
	a.jobs()
	slices.Sort(failedA)
	failedQuery := "?filter[fields][status][eq]=failed"

	before := a.env.Snapshot(t)
	for q, field := range map[string]string{
		"?page[limit]=10":                 "page[limit]",
		"?order_by=created_at_asc":        "order_by",
		"?dry_run=maybe":                  "dry_run",
		"?filter[fields][status][eq]=odd": "filter[fields][status][eq]",
		"":                                "filter", // every call of the project: 6, more than 5
	} {
		r := a.do(a.tokenP1, "POST", "/webhook_calls/bulk_resend"+q, nil)
		if r.status != 422 || !slices.Contains(errorFields(r), "INVALID_FIELD:"+field) {
			t.Errorf("bulk resend%s: %d %v; want 422 on %s", q, r.status, errorFields(r), field)
		}
	}
	if changed := before.Changed(a.env.Snapshot(t)); len(changed) > 0 || len(a.jobs()) > 0 {
		t.Errorf("refused bulk resends changed %v", changed)
	}

	dry := bulkAttrs(t, a.do(a.tokenP1, "POST", "/webhook_calls/bulk_resend"+failedQuery+"&dry_run=true", nil))
	if dry["matched"] != 5.0 || dry["resendable"] != 3.0 || dry["queued"] != 0.0 || dry["dry_run"] != true {
		t.Errorf("dry run: %v; want 5 matched (3 of a, b's, a deleted webhook's), 3 resendable, none queued", dry)
	}
	if changed := before.Changed(a.env.Snapshot(t)); len(changed) > 0 || len(a.jobs()) > 0 {
		t.Errorf("a dry run changed %v", changed)
	}

	res := bulkAttrs(t, a.do(a.tokenP1, "POST", "/webhook_calls/bulk_resend"+failedQuery, nil))
	skipped := res["skipped"].(map[string]any)
	if res["matched"] != 5.0 || res["queued"] != 3.0 || res["dry_run"] != false || skipped["webhook_disabled"] != 1.0 || skipped["webhook_deleted"] != 1.0 {
		t.Errorf("bulk resend: %v", res)
	}
	var queued []string
	for _, j := range a.jobs() {
		if j.Trigger != herald.TriggerManual || j.ResendID == "" {
			t.Errorf("job %+v; want a resend's", j)
		}
		queued = append(queued, j.CallID)
	}
	slices.Sort(queued)
	if !slices.Equal(queued, failedA) {
		t.Errorf("queued %v; want a's failed calls %v", queued, failedA)
	}
	for _, id := range failedA {
		if c, _ := a.store.GetCall(context.Background(), "p1", id); c.ResendID == "" {
			t.Errorf("call %s has no resend pending", id)
		}
	}

	again := bulkAttrs(t, a.do(a.tokenP1, "POST", "/webhook_calls/bulk_resend"+failedQuery, nil))
	if again["queued"] != 0.0 || again["skipped"].(map[string]any)["already_queued"] != 3.0 || len(a.jobs()) != 0 {
		t.Errorf("the same request again: %v; want nothing queued twice", again)
	}
	// The same filter written otherwise is the same request.
	same := bulkAttrs(t, a.do(a.tokenP1, "POST", "/webhook_calls/bulk_resend"+failedQuery+"&dry_run=false&x=1", nil))
	if same["queued"] != 0.0 {
		t.Errorf("the same filter with other parameters: %v", same)
	}
	clock.Advance(herald.BulkResendWindow + time.Second)
	later := bulkAttrs(t, a.do(a.tokenP1, "POST", "/webhook_calls/bulk_resend"+failedQuery, nil))
	// Their resends are still pending (no delivery ran), for 5 minutes at
	// most; past that, a new bulk resend queues them again.
	if later["queued"] != 3.0 {
		t.Errorf("after the window: %v; want the three queued again", later)
	}
	if n := len(a.jobs()); n != 3 {
		t.Errorf("after the window: %d jobs", n)
	}
	byIDs := bulkAttrs(t, a.do(a.tokenP1, "POST", fmt.Sprintf("/webhook_calls/bulk_resend?filter[ids]=%s,%s&dry_run=true", failedA[0], failedA[1]), nil))
	if byIDs["matched"] != 2.0 {
		t.Errorf("by ids: %v", byIDs)
	}
}
