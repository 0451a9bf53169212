package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/ingest"
	"github.com/heraldhq/herald/shared/sqs"
	"github.com/heraldhq/herald/test/testenv"
)

type fixture struct {
	env   *testenv.Env
	store *dynamo.Store
	queue *sqs.Queue
	hooks map[string]*herald.Webhook
	logs  io.Writer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := testenv.New(t)
	f := &fixture{env: env, store: dynamo.New(dynamo.Deps{DB: env.DB, Table: env.Table}), queue: sqs.New(env.SQS, env.FirstURL), hooks: map[string]*herald.Webhook{},
		logs: testenv.LogWriter(t, "ingest")}
	return f
}

func (f *fixture) handler(store ingest.Store, queue ingest.Queue) *ingest.Handler {
	return ingest.New(ingest.Deps{Store: store, Queue: queue, Clock: herald.SystemClock{},
		Log: slog.New(slog.NewTextHandler(f.logs, nil)), Retention: 24 * time.Hour})
}

func (f *fixture) addWebhook(t *testing.T, project, name string, enabled bool, triggers ...herald.Trigger) *herald.Webhook {
	t.Helper()
	now := time.Now()
	w, err := herald.NewWebhook(project, herald.NewID(now), herald.WebhookInput{
		Name: herald.Some(name), URL: herald.Some("https://example.com/" + name),
		CustomPayload: herald.Some[*string](nil), Headers: herald.Some(map[string]string{}),
		Events: herald.Some(triggers), HTTPBasicUser: herald.Some[*string](nil), HTTPBasicPassword: herald.Some[*string](nil),
		Enabled: herald.Some(enabled),
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.CreateWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	f.hooks[name] = w
	return w
}

func recordEvent(project, eventID, eventType, model string) string {
	return fmt.Sprintf(`{"project_id":%q,"event_id":%q,"environment":"main","is_environment_primary":true,
	"entity_type":"item","event_type":%q,"event_triggered_at":"2026-11-26T10:54:09Z",
	"entity":{"id":"293467","type":"item","attributes":{"name":"Irene"},"relationships":{"item_type":{"data":{"id":%q,"type":"item_type"}}}},
	"related_entities":[{"id":%q,"type":"item_type","attributes":{"api_key":"author"}}]}`, project, eventID, eventType, model, model)
}

// messages drains the queue.
func (f *fixture) messages(t *testing.T) []sqstypes.Message {
	t.Helper()
	var out []sqstypes.Message
	for {
		res, err := f.env.SQS.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{
			QueueUrl: aws.String(f.env.FirstURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 0,
			MessageAttributeNames: []string{"All"}, VisibilityTimeout: 60,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Messages) == 0 {
			return out
		}
		out = append(out, res.Messages...)
	}
}

func (f *fixture) callCount(t *testing.T, project string) int {
	t.Helper()
	_, total, err := f.store.ListCalls(context.Background(), project, herald.CallQuery{Limit: 1, Desc: true})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

func TestIngestCreatesOneCallPerMatchingWebhook(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	byKey := f.addWebhook(t, "p1", "by-api-key", true, herald.Trigger{EntityType: "item", EventTypes: []string{"update"}, Filters: []herald.Filter{{EntityType: "item_type", EntityIDs: []string{"author"}}}})
	multi := f.addWebhook(t, "p1", "two-triggers", true,
		herald.Trigger{EntityType: "item", EventTypes: []string{"update"}},
		herald.Trigger{EntityType: "item", EventTypes: []string{"update", "publish"}, Filters: []herald.Filter{{EntityType: "item_type", EntityIDs: []string{"1423"}}}})
	f.addWebhook(t, "p1", "disabled", false, herald.Trigger{EntityType: "item", EventTypes: []string{"update"}})
	f.addWebhook(t, "p1", "other-model", true, herald.Trigger{EntityType: "item", EventTypes: []string{"update"}, Filters: []herald.Filter{{EntityType: "item_type", EntityIDs: []string{"9"}}}})
	f.addWebhook(t, "p2", "other-project", true, herald.Trigger{EntityType: "item", EventTypes: []string{"update"}})

	h := f.handler(f.store, f.queue)
	reply, err := h.Handle(ctx, json.RawMessage(recordEvent("p1", "evt-1", "update", "1423")))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	r := reply.Results[0]
	if r.Status != "accepted" || len(r.Calls) != 2 || reply.Accepted != 1 {
		t.Fatalf("reply %+v", reply)
	}
	gotHooks := []string{r.Calls[0].WebhookID, r.Calls[1].WebhookID}
	wantHooks := []string{byKey.ID, multi.ID}
	slices.Sort(gotHooks)
	slices.Sort(wantHooks)
	if !slices.Equal(gotHooks, wantHooks) {
		t.Errorf("calls for %v; want %v", gotHooks, wantHooks)
	}
	for _, ref := range r.Calls {
		c, err := f.store.GetCall(ctx, "p1", ref.CallID)
		if err != nil {
			t.Fatalf("GetCall: %v", err)
		}
		if c.Status != herald.StatusPending || c.WebhookID != ref.WebhookID || c.EntityType != "item" || c.EventType != "update" ||
			c.EventID != "evt-1" || c.RequestPayload != "" {
			t.Errorf("call %+v", c)
		}
	}
	// The payload is stored once, in the event item.
	if p, err := f.store.EventPayload(ctx, "p1", "evt-1"); err != nil || !strings.Contains(string(p.Entity), "Irene") {
		t.Errorf("event payload %s, %v", p.Entity, err)
	}
	msgs := f.messages(t)
	if len(msgs) != 2 {
		t.Fatalf("%d messages; want 2", len(msgs))
	}
	for _, m := range msgs {
		job, err := herald.DecodeJob([]byte(*m.Body))
		if err != nil {
			t.Fatal(err)
		}
		if job.ProjectID != "p1" || job.Trigger != herald.TriggerFirst || job.Retry != 0 || job.Replay || job.EventID != "evt-1" ||
			!strings.Contains(string(job.Payload), "Irene") || job.EntityType != "item" || job.EventType != "update" ||
			!slices.ContainsFunc(r.Calls, func(c herald.CallRef) bool { return c.CallID == job.CallID && c.WebhookID == job.WebhookID }) {
			t.Errorf("job %+v", job)
		}
		if m.Attributes["MessageGroupId"] != job.CallID || m.Attributes["MessageDeduplicationId"] != job.CallID {
			t.Errorf("FIFO attributes %v: each job is its own group, deduplicated by its call", m.Attributes)
		}
		if *m.MessageAttributes["project"].StringValue != "p1" || *m.MessageAttributes["call_id"].StringValue != job.CallID ||
			*m.MessageAttributes["trigger"].StringValue != "first" {
			t.Errorf("message attributes %v", m.MessageAttributes)
		}
	}
	if n := f.callCount(t, "p2"); n != 0 {
		t.Errorf("project p2 got %d calls", n)
	}
}

func TestIngestSameEventTwiceCreatesNothingNew(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addWebhook(t, "p1", "all", true, herald.Trigger{EntityType: "item", EventTypes: []string{"update"}})
	h := f.handler(f.store, f.queue)
	first, err := h.Handle(ctx, json.RawMessage(recordEvent("p1", "evt-dup", "update", "1")))
	if err != nil {
		t.Fatal(err)
	}
	_ = f.messages(t)
	// A webhook added since would match; the event still makes nothing new.
	f.addWebhook(t, "p1", "added-later", true, herald.Trigger{EntityType: "item", EventTypes: []string{"update"}})
	second, err := f.handler(f.store, f.queue).Handle(ctx, json.RawMessage(recordEvent("p1", "evt-dup", "update", "1")))
	if err != nil {
		t.Fatal(err)
	}
	if second.Results[0].Status != "duplicate" || !slices.Equal(second.Results[0].Calls, first.Results[0].Calls) {
		t.Errorf("second ingest %+v; want duplicate of %+v", second.Results[0], first.Results[0])
	}
	if n := f.callCount(t, "p1"); n != 1 {
		t.Errorf("%d calls; want 1", n)
	}
	if msgs := f.messages(t); len(msgs) != 0 {
		t.Errorf("the duplicate queued %d messages; want none", len(msgs))
	}
}

// failingQueue fails every send, as SQS would when unreachable.
type failingQueue struct{}

func (failingQueue) SendAll(context.Context, []herald.Job) error {
	return errors.New("injected: SQS unreachable")
}

// failingStore fails CreateCall after n successes, or for the calls of one
// webhook: a crash half way through writing an event's calls.
type failingStore struct {
	*dynamo.Store
	left    atomic.Int32
	failFor string // a webhook id: its calls fail, once the others are written
	others  int32  // how many calls of other webhooks there are
	written atomic.Int32
}

func (s *failingStore) CreateCall(ctx context.Context, c *herald.Call) (bool, error) {
	if s.failFor != "" {
		if c.WebhookID != s.failFor {
			defer s.written.Add(1)
			return s.Store.CreateCall(ctx, c)
		}
		// The failure would cancel the writes still under way: wait for
		// them, however slow the machine.
		for deadline := time.Now().Add(10 * time.Second); s.written.Load() < s.others && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		return false, errors.New("injected: crash while writing calls")
	}
	if s.left.Add(-1) < 0 {
		return false, errors.New("injected: crash while writing calls")
	}
	return s.Store.CreateCall(ctx, c)
}

func TestIngestHealsAfterFailureBeforeQueueing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		f.addWebhook(t, "p1", fmt.Sprint("hook-", i), true, herald.Trigger{EntityType: "item", EventTypes: []string{"publish"}})
	}
	event := json.RawMessage(recordEvent("p1", "evt-crash", "publish", "1"))
	reply, err := f.handler(f.store, failingQueue{}).Handle(ctx, event)
	if err == nil || reply.Results[0].Status != "failed" {
		t.Fatalf("with SQS down: %+v, %v; want a failed event and an error", reply, err)
	}
	if n := f.callCount(t, "p1"); n != 3 {
		t.Fatalf("%d calls written before the failure; want 3", n)
	}
	if msgs := f.messages(t); len(msgs) != 0 {
		t.Fatalf("%d messages with SQS down", len(msgs))
	}
	// The CMS sends the event again: the calls are queued, none is added.
	reply, err = f.handler(f.store, f.queue).Handle(ctx, event)
	if err != nil || reply.Results[0].Status != "duplicate" {
		t.Fatalf("resent: %+v, %v", reply, err)
	}
	if msgs := f.messages(t); len(msgs) != 3 {
		t.Errorf("resent event queued %d messages; want 3", len(msgs))
	}
	if n := f.callCount(t, "p1"); n != 3 {
		t.Errorf("%d calls after the resend; want 3", n)
	}
	// And once more: everything was done, nothing happens.
	if _, err := f.handler(f.store, f.queue).Handle(ctx, event); err != nil {
		t.Fatal(err)
	}
	if msgs := f.messages(t); len(msgs) != 0 {
		t.Errorf("third send queued %d messages", len(msgs))
	}
}

func TestIngestHealsAfterCrashWhileWritingCalls(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := 0; i < 4; i++ {
		f.addWebhook(t, "p1", fmt.Sprint("hook-", i), true, herald.Trigger{EntityType: "item", EventTypes: []string{"publish"}})
	}
	event := json.RawMessage(recordEvent("p1", "evt-half", "publish", "1"))
	crashing := &failingStore{Store: f.store}
	crashing.left.Store(1)
	if _, err := f.handler(crashing, f.queue).Handle(ctx, event); err == nil {
		t.Fatal("no error from a crash while writing calls")
	}
	if n := f.callCount(t, "p1"); n > 3 {
		t.Fatalf("%d calls after writing stopped", n)
	}
	reply, err := f.handler(f.store, f.queue).Handle(ctx, event)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.callCount(t, "p1"); n != 4 || len(reply.Results[0].Calls) != 4 {
		t.Errorf("after the resend: %d calls, %d in the reply; want 4", n, len(reply.Results[0].Calls))
	}
	msgs := f.messages(t)
	ids := map[string]bool{}
	for _, m := range msgs {
		job, _ := herald.DecodeJob([]byte(*m.Body))
		ids[job.CallID] = true
	}
	for _, ref := range reply.Results[0].Calls {
		if !ids[ref.CallID] {
			t.Errorf("call %s was not queued", ref.CallID)
		}
	}
}

func TestIngestRejectsBadEventsAndKeepsTheRest(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addWebhook(t, "p1", "all", true, herald.Trigger{EntityType: "item", EventTypes: []string{"update", "publish"}})
	bad := map[string]string{
		"no event id":   `{"project_id":"p1","environment":"main","entity_type":"item","event_type":"update","event_triggered_at":"2026-11-26T10:54:09Z","entity":{"id":"1","type":"item"}}`,
		"wrong event":   strings.Replace(recordEvent("p1", "evt-b1", "update", "1"), `"event_type":"update"`, `"event_type":"deploy_failed"`, 1),
		"no entity id":  strings.Replace(recordEvent("p1", "evt-b2", "update", "1"), `"id":"293467",`, ``, 1),
		"not an object": `"just a string"`,
		"bad time":      strings.Replace(recordEvent("p1", "evt-b3", "update", "1"), `2026-11-26T10:54:09Z`, `tomorrow`, 1),
	}
	names := []string{"no event id", "wrong event", "no entity id", "not an object", "bad time"}
	events := []json.RawMessage{json.RawMessage(recordEvent("p1", "evt-good", "publish", "1"))}
	for _, n := range names {
		events = append(events, json.RawMessage(bad[n]))
	}
	batch, _ := json.Marshal(map[string]any{"events": events})
	reply, err := f.handler(f.store, f.queue).Handle(ctx, batch)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if reply.Accepted != 1 || reply.Rejected != 5 || reply.Results[0].Status != "accepted" {
		t.Fatalf("reply %+v", reply)
	}
	for i, n := range names {
		r := reply.Results[i+1]
		if r.Status != "rejected" || len(r.Errors) == 0 || len(r.Calls) != 0 {
			t.Errorf("%s: %+v", n, r)
		}
	}
	if e := reply.Results[2].Errors[0]; e.Field != "event_type" || e.Code != herald.ValidationEnum {
		t.Errorf("wrong event reported as %+v", e)
	}
	if n := f.callCount(t, "p1"); n != 1 {
		t.Errorf("%d calls; want only the good event's", n)
	}
	if msgs := f.messages(t); len(msgs) != 1 {
		t.Errorf("%d messages; want 1", len(msgs))
	}
	if _, err := f.handler(f.store, f.queue).Handle(ctx, json.RawMessage(`[1,2]`)); err == nil {
		t.Errorf("an array payload was accepted")
	}
	tooMany, _ := json.Marshal(map[string]any{"events": make([]json.RawMessage, herald.MaxBatchEvents+1)})
	if _, err := f.handler(f.store, f.queue).Handle(ctx, tooMany); herald.ErrorCode(err) != herald.ETOOLARGE {
		t.Errorf("an oversized batch: %v", err)
	}
}

// TestIngestAWSCallsPerEvent counts the AWS requests one event costs, through
// an SDK middleware: with the webhook cache cold and warm.
func TestIngestAWSCallsPerEvent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		f.addWebhook(t, "p1", fmt.Sprint("hook-", i), true, herald.Trigger{EntityType: "item", EventTypes: []string{"publish"}})
	}
	f.addWebhook(t, "p1", "no-match", true, herald.Trigger{EntityType: "upload", EventTypes: []string{"create"}})
	h := f.handler(f.store, f.queue)
	f.env.Calls.Reset()
	if _, err := h.Handle(ctx, json.RawMessage(recordEvent("p1", "evt-c1", "publish", "1"))); err != nil {
		t.Fatal(err)
	}
	cold := f.env.Calls.Snapshot()
	want := map[string]int{"DynamoDB.Query": 1, "DynamoDB.PutItem": 4, "SQS.SendMessageBatch": 1}
	if fmt.Sprint(cold) != fmt.Sprint(want) {
		t.Errorf("cold cache, 3 matches: %v; want %v", cold, want)
	}
	f.env.Calls.Reset()
	if _, err := h.Handle(ctx, json.RawMessage(recordEvent("p1", "evt-c2", "publish", "1"))); err != nil {
		t.Fatal(err)
	}
	delete(want, "DynamoDB.Query")
	if warm := f.env.Calls.Snapshot(); fmt.Sprint(warm) != fmt.Sprint(want) {
		t.Errorf("warm cache: %v; want %v", warm, want)
	}
	t.Logf("AWS calls per event matching 3 webhooks: cold %v, warm %v", cold, f.env.Calls.Snapshot())
}

// TestCallsWrittenLateDoNotChangeClosedHours is issue 10's eighth defect:
// when ingest stopped between recording an event's plan and writing its
// calls, the CMS sending the event again hours later wrote the missing calls
// with the times first planned, into hours whose counts were already kept;
// meta.total_count then stayed short of what a full listing shows. A call
// is now only ever written within a minute of its id's time: a missing call
// planned longer ago gets a new id (it never existed, and no job named it).
func TestCallsWrittenLateDoNotChangeClosedHours(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Now().UTC().Truncate(time.Hour).Add(-5 * time.Hour).Add(20 * time.Minute)
	clk := herald.ClockFunc(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	store := dynamo.New(dynamo.Deps{DB: f.env.DB, Table: f.env.Table, Clock: clk, Retention: 30 * 24 * time.Hour})
	f.store = store
	for i := range 2 {
		f.addWebhook(t, "p1", fmt.Sprint("hook-", i), true, herald.Trigger{EntityType: "item", EventTypes: []string{"publish"}})
	}
	handler := func(s ingest.Store) *ingest.Handler {
		return ingest.New(ingest.Deps{Store: s, Queue: f.queue, Clock: clk,
			Log: slog.New(slog.NewTextHandler(f.logs, nil)), Retention: 30 * 24 * time.Hour})
	}
	event := json.RawMessage(recordEvent("p1", "evt-late", "publish", "1"))
	crashing := &failingStore{Store: store, failFor: f.hooks["hook-1"].ID, others: 1}
	if _, err := handler(crashing).Handle(ctx, event); err == nil {
		t.Fatal("no error from a crash while writing calls")
	}

	// Hours later, a list keeps the count of that hour, now closed.
	advance(3 * time.Hour)
	total := func() (int, int) {
		page, total, err := store.ListCalls(ctx, "p1", herald.CallQuery{Limit: 500, Desc: true})
		if err != nil {
			t.Fatal(err)
		}
		return total, len(page)
	}
	if total, listed := total(); total != 1 || listed != 1 {
		t.Fatalf("before the resend: total %d, listed %d; want 1 call", total, listed)
	}
	_ = f.messages(t)

	// The CMS sends the event again.
	reply, err := handler(store).Handle(ctx, event)
	if err != nil || reply.Results[0].Status != "duplicate" || len(reply.Results[0].Calls) != 2 {
		t.Fatalf("resent: %+v, %v", reply, err)
	}
	if total, listed := total(); total != listed || total != 2 {
		t.Errorf("after the resend: meta.total_count %d, a full listing %d; want both 2", total, listed)
	}
	queued := map[string]bool{}
	for _, m := range f.messages(t) {
		job, _ := herald.DecodeJob([]byte(*m.Body))
		queued[job.CallID] = true
	}
	for _, ref := range reply.Results[0].Calls {
		c, err := store.GetCall(ctx, "p1", ref.CallID)
		if err != nil {
			t.Fatalf("call %s of the reply: %v", ref.CallID, err)
		}
		if late := clk.Now().Sub(c.CreatedAt); late > time.Minute && late < 3*time.Hour {
			t.Errorf("call %s written %v after its created_at", c.ID, late)
		}
		if !queued[ref.CallID] {
			t.Errorf("call %s was not queued", ref.CallID)
		}
	}
	// And again: the same calls, nothing new.
	again, err := handler(store).Handle(ctx, event)
	if err != nil || !slices.Equal(again.Results[0].Calls, reply.Results[0].Calls) {
		t.Errorf("third send: %+v, %v; want the same calls", again.Results[0], err)
	}
}
