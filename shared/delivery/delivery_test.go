package delivery_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/heraldhq/herald/shared/delivery"
	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/sender"
	"github.com/heraldhq/herald/shared/signing"
	"github.com/heraldhq/herald/shared/sqs"
	"github.com/heraldhq/herald/test/testenv"
)

// receiver is a real local HTTP server that records what it gets and
// answers with whatever respond says.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []received
	respond  func(w http.ResponseWriter, r *http.Request)
}

type received struct {
	header http.Header
	body   []byte
	path   string
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{respond: func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.requests = append(rc.requests, received{header: r.Header.Clone(), body: body, path: r.URL.Path})
		respond := rc.respond
		rc.mu.Unlock()
		respond(w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.requests...)
}

func (rc *receiver) setRespond(f func(w http.ResponseWriter, r *http.Request)) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.respond = f
}

type fixture struct {
	env     *testenv.Env
	store   *dynamo.Store
	clock   *testenv.Clock
	handler *delivery.Handler
	rcv     *receiver
	hook    *herald.Webhook
	logs    *testenv.Buffer
}

var start = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func newFixture(t *testing.T, configure func(in *herald.WebhookInput)) *fixture {
	t.Helper()
	env := testenv.New(t)
	clk := testenv.NewClock(time.Now().UTC())
	store := dynamo.New(dynamo.Deps{DB: env.DB, Table: env.Table, Clock: clk})
	send, err := sender.New(sender.Options{AllowPrivate: true, Clock: clk, TotalTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	log, logs := testenv.Logger(t, "delivery")
	f := &fixture{env: env, store: store, clock: clk, rcv: newReceiver(t), logs: logs,
		handler: delivery.New(delivery.Deps{Store: store, Queue: sqs.New(env.SQS, env.QueueURL), Sender: send, Clock: clk, Log: log})}
	user, pw := "deploy", testenv.Secret(t, "hunter2-basic")
	testenv.Secret(t, base64.StdEncoding.EncodeToString([]byte(user+":"+pw)))
	in := herald.WebhookInput{
		Name: herald.Some("hook"), URL: herald.Some(f.rcv.URL + "/hooks/{{entity.id}}"),
		CustomPayload: herald.Some[*string](nil), Headers: herald.Some(map[string]string{"X-Team": "web"}),
		Events:        herald.Some([]herald.Trigger{{EntityType: "item", EventTypes: []string{"update"}}}),
		HTTPBasicUser: herald.Some(&user), HTTPBasicPassword: herald.Some(&pw),
	}
	if configure != nil {
		configure(&in)
	}
	hook, err := herald.NewWebhook("p1", herald.NewID(clk.Now()), in, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	hook.Secret.Current = signing.NewSecret()
	if err := store.CreateWebhook(context.Background(), hook); err != nil {
		t.Fatal(err)
	}
	f.hook = hook
	return f
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// newCall writes a pending call of the fixture's webhook, as ingest would.
func (f *fixture) newCall(t *testing.T) *herald.Call {
	t.Helper()
	now := f.clock.Now().Truncate(time.Millisecond)
	ev := &herald.Event{ProjectID: "p1", EventID: "evt-" + herald.NewID(now), Environment: "main", IsEnvironmentPrimary: true,
		EntityType: "item", EventType: "update", EventTriggeredAt: start,
		Entity:          json.RawMessage(`{"id":"293467","type":"item","attributes":{"name":"Irene"}}`),
		PreviousEntity:  json.RawMessage(`{"id":"293467","type":"item","attributes":{"name":"Ire"}}`),
		RelatedEntities: json.RawMessage(`[{"id":"1423","type":"item_type"}]`)}
	c := herald.NewCall(herald.NewID(now), f.hook, ev, now, 30*24*time.Hour)
	doc, err := herald.MarshalPayload(c.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.store.ClaimEvent(context.Background(), "p1", ev.EventID, []herald.CallRef{{WebhookID: f.hook.ID, CallID: c.ID}}, doc, c.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.CreateCall(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// message is a job as the event source mapping hands it over, received for
// the first time.
func message(job herald.Job) events.SQSMessage {
	return receivedN(job, 1)
}

// received is a job as received for the n-th time.
func receivedN(job herald.Job, n int) events.SQSMessage {
	body, _ := json.Marshal(job)
	return events.SQSMessage{MessageId: herald.NewID(time.Now()), Body: string(body),
		Attributes: map[string]string{"ApproximateReceiveCount": fmt.Sprint(n)}}
}

func (f *fixture) deliver(t *testing.T, jobs ...herald.Job) events.SQSEventResponse {
	t.Helper()
	var msgs []events.SQSMessage
	for _, j := range jobs {
		msgs = append(msgs, message(j))
	}
	return f.deliverMessages(t, msgs...)
}

func (f *fixture) deliverMessages(t *testing.T, msgs ...events.SQSMessage) events.SQSEventResponse {
	t.Helper()
	res, err := f.handler.HandleSQS(context.Background(), events.SQSEvent{Records: msgs})
	if err != nil {
		t.Fatalf("HandleSQS: %v", err)
	}
	return res
}

func (f *fixture) call(t *testing.T, id string) *herald.Call {
	t.Helper()
	c, err := f.store.GetCall(context.Background(), "p1", id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// first is the first-attempt job ingest queues for a call: it carries the
// call's webhook, types, event and payload.
func first(c *herald.Call) herald.Job {
	doc, err := herald.MarshalPayload(c.Payload)
	if err != nil {
		panic(err)
	}
	return herald.Job{ProjectID: c.ProjectID, CallID: c.ID, Trigger: herald.TriggerFirst,
		WebhookID: c.WebhookID, EntityType: c.EntityType, EventType: c.EventType, EventID: c.EventID,
		ExpiresAt: c.ExpiresAt.Unix(), Payload: doc}
}

func TestDeliverySendsWhatTheContractSays(t *testing.T) {
	f := newFixture(t, nil)
	c := f.newCall(t)
	if res := f.deliver(t, first(c)); len(res.BatchItemFailures) != 0 {
		t.Fatalf("failures %v", res.BatchItemFailures)
	}
	got := f.rcv.got()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests", len(got))
	}
	req := got[0]
	if req.path != "/hooks/293467" {
		t.Errorf("path %q; want the URL template rendered", req.path)
	}
	var body map[string]any
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatalf("body is not JSON: %s", req.body)
	}
	for k, want := range map[string]any{"site_id": "p1", "webhook_id": f.hook.ID, "webhook_call_id": c.ID, "environment": "main",
		"is_environment_primary": true, "event_triggered_at": "2026-11-26T12:00:00Z", "attempted_auto_retries_count": 0.0,
		"entity_type": "item", "event_type": "update"} {
		if body[k] != want {
			t.Errorf("body %s = %v; want %v", k, body[k], want)
		}
	}
	if body["entity"].(map[string]any)["attributes"].(map[string]any)["name"] != "Irene" || body["previous_entity"] == nil || len(body["related_entities"].([]any)) != 1 {
		t.Errorf("body entity parts: %s", req.body)
	}
	h := req.header
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("deploy:hunter2-basic"))
	for k, want := range map[string]string{"Content-Type": "application/json", "Accept": "*/*", "User-Agent": herald.UserAgent,
		"Authorization": wantAuth, "X-Team": "web", "Webhook-Id": c.ID} {
		if h.Get(k) != want {
			t.Errorf("header %s = %q; want %q", k, h.Get(k), want)
		}
	}
	if err := signing.Verify(f.hook.Secret.Current, h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature"), req.body, time.Now(), 5*time.Minute); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}

	rec := f.call(t, c.ID)
	if rec.Status != herald.StatusSuccess || rec.ResponseStatus == nil || *rec.ResponseStatus != 200 || *rec.ResponsePayload != "ok" ||
		rec.LastSentAt == nil || rec.NextRetryAt != nil || len(rec.Attempts) != 1 || rec.RequestURL != f.rcv.URL+"/hooks/293467" {
		t.Errorf("recorded call %+v", rec)
	}
	if rec.RequestHeaders["Authorization"] != "Basic [redacted]" || rec.RequestPayload != string(req.body) {
		t.Errorf("recorded request headers %v", rec.RequestHeaders)
	}
	if a := rec.Attempts[0]; a.Number != 1 || a.Trigger != herald.TriggerFirst || !a.Success || *a.ResponseStatus != 200 {
		t.Errorf("attempt %+v", a)
	}
	if strings.Contains(f.logs.String(), "hunter2-basic") || strings.Contains(f.logs.String(), f.hook.Secret.Current) {
		t.Errorf("a secret reached the logs")
	}
}

func TestCustomPayloadAndContentType(t *testing.T) {
	tmpl := `{"who":"{{entity.attributes.name}}","event":"{{event_type}}"}`
	f := newFixture(t, func(in *herald.WebhookInput) {
		in.CustomPayload = herald.Some(&tmpl)
		in.Headers = herald.Some(map[string]string{"Content-Type": "text/plain"})
	})
	c := f.newCall(t)
	f.deliver(t, first(c))
	got := f.rcv.got()
	if len(got) != 1 || string(got[0].body) != `{"who":"Irene","event":"update"}` || got[0].header.Get("Content-Type") != "text/plain" {
		t.Errorf("got %q with %q", got[0].body, got[0].header.Get("Content-Type"))
	}
}

func TestFailureIsRescheduledAndQueued(t *testing.T) {
	f := newFixture(t, nil)
	f.rcv.setRespond(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	c := f.newCall(t)
	f.deliver(t, first(c))
	rec := f.call(t, c.ID)
	if rec.Status != herald.StatusRescheduled || rec.NextRetryAt == nil || rec.NextAuto == nil || *rec.NextAuto != 1 {
		t.Fatalf("after a 500: %+v", rec)
	}
	if d := rec.NextRetryAt.Sub(*rec.LastSentAt); d != 2*time.Minute {
		t.Errorf("next retry %v after the attempt; want 2m", d)
	}
	if a := rec.Attempts[0]; a.Success || a.ErrorKind != herald.ErrKindHTTPStatus || *a.ResponseStatus != 500 {
		t.Errorf("attempt %+v", a)
	}
	attrs, err := f.env.SQS.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(f.env.QueueURL), AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessagesDelayed"}})
	if err != nil {
		t.Fatal(err)
	}
	if attrs.Attributes["ApproximateNumberOfMessagesDelayed"] != "1" {
		t.Errorf("delayed messages %v; want the 2-minute retry on the queue", attrs.Attributes)
	}
}

// TestRetryAfterOnlyFrom429And503 is issue 10's fourth defect: the
// contract lets a 429 or a 503 push a retry later (and a retry that far
// away waits in storage, parked); any other status with a Retry-After (a
// 500 asking for 48 hours) keeps DatoCMS's schedule.
func TestRetryAfterOnlyFrom429And503(t *testing.T) {
	tests := map[string]struct {
		status     int
		retryAfter string
		want       time.Duration
	}{
		"500":         {500, "172800", 2 * time.Minute},
		"502":         {502, "172800", 2 * time.Minute},
		"404":         {404, "172800", 2 * time.Minute},
		"429":         {429, "172800", 48 * time.Hour},
		"503":         {503, "172800", 48 * time.Hour},
		"429 an hour": {429, "3600", time.Hour},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.rcv.setRespond(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tc.retryAfter)
				http.Error(w, "go away", tc.status)
			})
			c := f.newCall(t)
			f.deliver(t, first(c))
			rec := f.call(t, c.ID)
			if rec.NextRetryAt == nil {
				t.Fatalf("no retry scheduled: %+v", rec)
			}
			if d := rec.NextRetryAt.Sub(rec.Attempts[0].StartedAt); d != tc.want {
				t.Errorf("%d with Retry-After %s: next retry in %v; want %v", tc.status, tc.retryAfter, d, tc.want)
			}
			if wantParked := tc.want > herald.QueueReach; rec.Parked != wantParked {
				t.Errorf("a retry %v away: parked %v, want %v", tc.want, rec.Parked, wantParked)
			}
		})
	}
}

// TestUnusableSecretIsNotSentUnsigned (issue 10): a webhook whose signing
// secret cannot be parsed (written by hand, or damaged) used to be sent
// without a signature; the attempt now fails with error kind "signing" and
// nothing leaves Herald.
func TestUnusableSecretIsNotSentUnsigned(t *testing.T) {
	f := newFixture(t, nil)
	old := *f.hook
	broken := *f.hook
	broken.Secret.Current = "whsec_not base64!"
	if err := f.store.UpdateWebhook(context.Background(), &old, &broken); err != nil {
		t.Fatal(err)
	}
	c := f.newCall(t)
	f.deliver(t, first(c))
	if n := len(f.rcv.got()); n != 0 {
		t.Fatalf("the receiver got %d requests from a webhook without a usable secret", n)
	}
	rec := f.call(t, c.ID)
	if len(rec.Attempts) != 1 || rec.Attempts[0].ErrorKind != herald.ErrKindSigning || rec.LastSentAt != nil {
		t.Fatalf("attempts %+v, last sent %v; want one attempt with error kind signing, never sent", rec.Attempts, rec.LastSentAt)
	}
	if rec.Status != herald.StatusRescheduled {
		t.Errorf("status %s; want rescheduled (rotating the secret mends it before the retry)", rec.Status)
	}
	if strings.Contains(f.logs.String(), "not base64") {
		t.Errorf("the secret was logged")
	}
}

// TestDuplicateMessagesSendOnce: copies of one job send once. A retry's job
// is on the standard queue, which may hand out copies at the same time: the
// claim lets one send. A first attempt's job is on the FIFO queue, which
// hands out one copy at a time: one received again (the function stopped
// before its message was deleted) or queued again for an event sent again
// claims the attempt, and finds it made.
func TestDuplicateMessagesSendOnce(t *testing.T) {
	f := newFixture(t, nil)
	c := f.newCall(t)
	var fail atomic.Bool
	fail.Store(true)
	f.rcv.setRespond(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond)
		if fail.Load() {
			http.Error(w, "down", 500)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	if res := f.deliver(t, first(c)); len(res.BatchItemFailures) != 0 {
		t.Fatalf("first attempt: %v", res.BatchItemFailures)
	}
	replay := first(c)
	replay.Replay = true
	f.deliverMessages(t, receivedN(first(c), 2), message(replay))
	if n := len(f.rcv.got()); n != 1 {
		t.Fatalf("the first attempt received again and replayed sent %d requests; want 1", n)
	}

	fail.Store(false)
	retry := herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerAuto, Retry: 1}
	res := f.deliver(t, retry, retry, retry)
	if n := len(f.rcv.got()); n != 2 {
		t.Errorf("three copies of a retry's job: %d requests in all; want 2 (the first attempt, one retry)", n)
	}
	// The copies that found the lease held come back; they are then stale.
	if len(res.BatchItemFailures) > 2 {
		t.Errorf("%d failures", len(res.BatchItemFailures))
	}
	f.deliver(t, retry)
	if n := len(f.rcv.got()); n != 2 {
		t.Errorf("a late copy sent again: %d requests", n)
	}
}

// TestBatchSendsConcurrently: a receiver that answers only once it holds
// three requests at the same time. Sent one after another, the first would
// time out and nothing would succeed.
func TestBatchSendsConcurrently(t *testing.T) {
	f := newFixture(t, nil)
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	f.rcv.setRespond(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived++
		if arrived == 3 {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
			_, _ = w.Write([]byte("ok"))
		case <-time.After(2 * time.Second):
			http.Error(w, "alone", 500)
		}
	})
	calls := []*herald.Call{f.newCall(t), f.newCall(t), f.newCall(t)}
	f.deliver(t, first(calls[0]), first(calls[1]), first(calls[2]))
	for _, c := range calls {
		if got := f.call(t, c.ID); got.Status != herald.StatusSuccess {
			t.Errorf("call %s: %s; the batch was not sent concurrently", c.ID, got.Status)
		}
	}
}

func TestResend(t *testing.T) {
	f := newFixture(t, nil)
	f.rcv.setRespond(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	c := f.newCall(t)
	f.deliver(t, first(c))
	ctx := context.Background()

	// A failed resend does not count toward the retries.
	if ok, _ := f.store.RequestResend(ctx, "p1", c.ID, "r1"); !ok {
		t.Fatal("resend not queued")
	}
	f.deliver(t, herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerManual, ResendID: "r1"})
	rec := f.call(t, c.ID)
	if rec.Status != herald.StatusRescheduled || rec.AttemptedAutoRetries != 0 || *rec.NextAuto != 1 || len(rec.Attempts) != 2 || rec.Attempts[1].Trigger != herald.TriggerManual || rec.ResendID != "" {
		t.Fatalf("after a failed resend: %+v", rec)
	}

	// The URL fixed, a resend succeeds with the current settings and stops
	// the pending automatic retry.
	fixed := newReceiver(t)
	cur, _ := f.store.GetWebhook(ctx, "p1", f.hook.ID)
	upd, _ := cur.Update(herald.WebhookInput{URL: herald.Some(fixed.URL + "/new")}, time.Now())
	if err := f.store.UpdateWebhook(ctx, cur, upd); err != nil {
		t.Fatal(err)
	}
	// Delivery reads a webhook at most WebhookTTL ago.
	f.clock.Set(f.clock.Now().Add(delivery.WebhookTTL + time.Second))
	f.store.RequestResend(ctx, "p1", c.ID, "r2")
	f.deliver(t, herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerManual, ResendID: "r2"})
	rec = f.call(t, c.ID)
	if rec.Status != herald.StatusSuccess || rec.NextAuto != nil || rec.NextRetryAt != nil || len(fixed.got()) != 1 || rec.RequestURL != fixed.URL+"/new" {
		t.Fatalf("after a successful resend: %+v", rec)
	}
	if fixed.got()[0].header.Get("webhook-id") != c.ID {
		t.Errorf("a resend changed the webhook-id")
	}
	// The automatic retry that was queued arrives: it sends nothing.
	f.deliver(t, herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerAuto, Retry: 1})
	if len(fixed.got()) != 1 || len(f.rcv.got()) != 2 {
		t.Errorf("a stopped retry was sent")
	}
}

func TestConcurrentResendJobsSendOnce(t *testing.T) {
	f := newFixture(t, nil)
	c := f.newCall(t)
	f.deliver(t, first(c))
	f.store.RequestResend(context.Background(), "p1", c.ID, "r1")
	job := herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerManual, ResendID: "r1"}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); f.deliver(t, job) }()
	}
	wg.Wait()
	if n := len(f.rcv.got()); n != 2 {
		t.Errorf("first attempt and 4 copies of one resend sent %d requests; want 2", n)
	}
}

func TestDeletedAndDisabledWebhooksAreNotSent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	c := f.newCall(t)
	cur, _ := f.store.GetWebhook(ctx, "p1", f.hook.ID)
	off, _ := cur.Update(herald.WebhookInput{Enabled: herald.Some(false)}, time.Now())
	if err := f.store.UpdateWebhook(ctx, cur, off); err != nil {
		t.Fatal(err)
	}
	f.deliver(t, first(c))
	if rec := f.call(t, c.ID); rec.Status != herald.StatusFailed || rec.Attempts[0].ErrorKind != herald.ErrKindDisabled || rec.NextAuto != nil {
		t.Errorf("disabled: %+v", rec)
	}
	c2 := f.newCall(t)
	if err := f.store.DeleteWebhook(ctx, off); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(f.clock.Now().Add(delivery.WebhookTTL + time.Second)) // the cached webhook expires
	f.deliver(t, first(c2))
	if rec := f.call(t, c2.ID); rec.Status != herald.StatusFailed || rec.Attempts[0].ErrorKind != herald.ErrKindNoWebhook {
		t.Errorf("deleted: %+v", rec)
	}
	if n := len(f.rcv.got()); n != 0 {
		t.Errorf("receiver got %d requests", n)
	}
}

// TestParkedRetryIsSweptOnTime drives a call through a parked retry with an
// injected clock: the sweep queues it only once it is within reach, with the
// delay that makes it due on time.
func TestParkedRetryIsSweptOnTime(t *testing.T) {
	f := newFixture(t, nil)
	f.rcv.setRespond(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) })
	c := f.newCall(t)
	ctx := context.Background()
	f.deliver(t, first(c))
	// Retries 1 and 2 are due in 2 and 6 minutes: queued, not parked.
	for retry := 1; retry <= 2; retry++ {
		rec := f.call(t, c.ID)
		if rec.Parked {
			t.Fatalf("retry %d parked", retry)
		}
		f.clock.Set(*rec.NextRetryAt)
		f.deliver(t, herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerAuto, Retry: retry})
	}
	rec := f.call(t, c.ID)
	if !rec.Parked || rec.NextRetryAt.Sub(rec.Attempts[2].StartedAt) != 30*time.Minute || rec.AttemptedAutoRetries != 2 {
		t.Fatalf("third retry: parked %v at %v after %v", rec.Parked, rec.NextRetryAt, rec.Attempts[2].StartedAt)
	}
	due := *rec.NextRetryAt
	f.clock.Set(due.Add(-20 * time.Minute))
	if n, err := f.handler.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("sweep 20 minutes early queued %d (%v)", n, err)
	}
	f.clock.Set(due.Add(-10 * time.Minute))
	if n, err := f.handler.Sweep(ctx); err != nil || n != 1 {
		t.Errorf("sweep 10 minutes before: queued %d (%v); want 1", n, err)
	}
	if n, _ := f.handler.Sweep(ctx); n != 0 {
		t.Errorf("a second sweep queued it again")
	}
	if f.call(t, c.ID).Parked {
		t.Errorf("still parked after the sweep")
	}
	out, _ := f.env.SQS.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(f.env.QueueURL), AttributeNames: []sqstypes.QueueAttributeName{"All"}})
	if out.Attributes["ApproximateNumberOfMessagesDelayed"] == "0" {
		t.Errorf("the swept retry is not delayed on the queue: %v", out.Attributes)
	}
}

// TestAWSCallsPerDeliveredCall counts the requests of one first-attempt
// success, through an SDK middleware.
func TestAWSCallsPerDeliveredCall(t *testing.T) {
	f := newFixture(t, nil)
	c := f.newCall(t)
	f.env.Calls.Reset()
	f.deliver(t, first(c))
	cold := f.env.Calls.Snapshot()
	// No claim (the call was created claimed for this job) and no payload
	// read (the job carries it): the webhook read, then the record.
	if want := map[string]int{"DynamoDB.GetItem": 1, "DynamoDB.UpdateItem": 1}; fmt.Sprint(cold) != fmt.Sprint(want) {
		t.Errorf("one first-attempt success, webhook not cached: %v; want %v", cold, want)
	}
	c2 := f.newCall(t)
	f.env.Calls.Reset()
	f.deliver(t, first(c2))
	warm := f.env.Calls.Snapshot()
	if want := map[string]int{"DynamoDB.UpdateItem": 1}; fmt.Sprint(warm) != fmt.Sprint(want) {
		t.Errorf("one first-attempt success, webhook cached: %v; want %v", warm, want)
	}
	t.Logf("AWS calls per first-attempt success: %v (webhook cached), %v (not)", warm, cold)
}

// failOnceQueue fails its first Send, as SQS does when it throttles past
// the SDK's retries.
type failOnceQueue struct {
	delivery.Queue
	failed atomic.Bool
}

func (q *failOnceQueue) Send(ctx context.Context, job herald.Job, delay time.Duration) error {
	if q.failed.CompareAndSwap(false, true) {
		return fmt.Errorf("injected: SQS unavailable")
	}
	return q.Queue.Send(ctx, job, delay)
}

// TestRetryQueuedAfterFailedSend: the attempt is recorded but queueing its
// retry fails; the job is not acknowledged, comes back, and queues the
// retry without sending the attempt again (docs/delivery.md, "heal").
func TestRetryQueuedAfterFailedSend(t *testing.T) {
	f := newFixture(t, nil)
	f.rcv.setRespond(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	send, err := sender.New(sender.Options{AllowPrivate: true, Clock: f.clock, TotalTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	failing := delivery.New(delivery.Deps{Store: f.store, Queue: &failOnceQueue{Queue: sqs.New(f.env.SQS, f.env.QueueURL)}, Sender: send, Clock: f.clock, Log: slog.New(slog.DiscardHandler)})
	c := f.newCall(t)
	msg := message(first(c))
	res, err := failing.HandleSQS(context.Background(), events.SQSEvent{Records: []events.SQSMessage{msg}})
	if err == nil && len(res.BatchItemFailures) == 0 {
		t.Fatal("a failed retry send was acknowledged; its message would be deleted")
	}
	delayed := func() string {
		attrs, err := f.env.SQS.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(f.env.QueueURL),
			AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessagesDelayed"}})
		if err != nil {
			t.Fatal(err)
		}
		return attrs.Attributes["ApproximateNumberOfMessagesDelayed"]
	}
	if got := delayed(); got != "0" {
		t.Fatalf("delayed messages after the failed send: %s; want 0", got)
	}
	// The message comes back after its visibility timeout.
	if res := f.deliverMessages(t, receivedN(first(c), 2)); len(res.BatchItemFailures) != 0 {
		t.Fatalf("the returning job failed: %v", res.BatchItemFailures)
	}
	if got := delayed(); got != "1" {
		t.Errorf("delayed messages after the job came back: %s; want the 2-minute retry", got)
	}
	if n := len(f.rcv.got()); n != 1 {
		t.Errorf("the receiver got %d requests; want 1 (the attempt was recorded)", n)
	}
	if rec := f.call(t, c.ID); rec.Status != herald.StatusRescheduled || rec.NextAuto == nil || *rec.NextAuto != 1 {
		t.Errorf("call after healing: %+v", rec)
	}
}

// brokenClaims fails every claim, as a store that cannot be reached would.
type brokenClaims struct{ delivery.Store }

func (brokenClaims) ClaimAttempt(context.Context, herald.Job, string, time.Duration) (*herald.Call, herald.ClaimResult, error) {
	return nil, herald.Gone, fmt.Errorf("injected: the table is unreachable")
}

// TestDeadLetteredJobMarksItsCall (issue 13): a job that fails on the last
// receive its queue allows is moved to the dead-letter queue; its call must
// not stay pending, or rescheduled for a time long past, until someone
// moves it back. It is recorded failed, with an attempt that was not sent
// and says why; moved back, the job still finds its attempt due.
func TestDeadLetteredJobMarksItsCall(t *testing.T) {
	f := newFixture(t, nil)
	f.rcv.setRespond(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) })
	c := f.newCall(t)
	f.deliver(t, first(c)) // fails: retry 1 is due
	send, err := sender.New(sender.Options{AllowPrivate: true, Clock: f.clock, TotalTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	broken := delivery.New(delivery.Deps{Store: brokenClaims{f.store}, Queue: sqs.New(f.env.SQS, f.env.QueueURL), Sender: send, Clock: f.clock, Log: slog.New(slog.DiscardHandler)})
	retry := herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerAuto, Retry: 1}
	for n := 1; n <= delivery.MaxReceives; n++ {
		res, err := broken.HandleSQS(context.Background(), events.SQSEvent{Records: []events.SQSMessage{receivedN(retry, n)}})
		if err == nil && len(res.BatchItemFailures) != 1 {
			t.Fatalf("receive %d: the failure was not reported", n)
		}
		rec := f.call(t, c.ID)
		last := rec.Attempts[len(rec.Attempts)-1]
		if marked := last.ErrorKind == herald.ErrKindDLQ; marked != (n == delivery.MaxReceives) {
			t.Fatalf("after receive %d: attempts %+v; want the dead-letter mark on receive %d only", n, rec.Attempts, delivery.MaxReceives)
		}
	}
	rec := f.call(t, c.ID)
	if rec.Status != herald.StatusFailed || len(rec.Attempts) != 2 || rec.NextAuto == nil || *rec.NextAuto != 1 ||
		!strings.Contains(rec.Attempts[1].Error, "dead-letter queue") || len(f.rcv.got()) != 1 {
		t.Fatalf("dead-lettered: status %s, attempts %+v, next %v, %d sent", rec.Status, rec.Attempts, rec.NextAuto, len(f.rcv.got()))
	}
	// Moved back once the table is reachable again: the retry is made.
	f.rcv.setRespond(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	f.deliver(t, retry)
	if rec := f.call(t, c.ID); rec.Status != herald.StatusSuccess || len(f.rcv.got()) != 2 {
		t.Errorf("after the redrive: status %s, %d sent; want success, 2", rec.Status, len(f.rcv.got()))
	}
}
