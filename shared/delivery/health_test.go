package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/delivery"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/ingest"
	"github.com/heraldhq/herald/shared/sender"
	"github.com/heraldhq/herald/shared/signing"
	"github.com/heraldhq/herald/shared/sqs"
)

// healthy gives the fixture's handler health bookkeeping and operational
// events, raised through a real ingest handler onto the first-attempt
// queue, with auto-disable after window; and a second webhook, "ops", on
// another receiver, that subscribes to every operational event.
func (f *fixture) healthy(t *testing.T, window time.Duration) (ops *herald.Webhook, opsRcv *receiver) {
	t.Helper()
	send, err := sender.New(sender.Options{AllowPrivate: true, Clock: f.clock, TotalTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) { return f.logs.Write(p) }), nil))
	events := ingest.New(ingest.Deps{Store: f.store, Queue: sqs.New(f.env.SQS, f.env.FirstURL), Clock: f.clock, Log: log,
		Retention: 30 * 24 * time.Hour, WebhookTTL: time.Nanosecond})
	f.handler = delivery.New(delivery.Deps{Store: f.store, Queue: sqs.New(f.env.SQS, f.env.QueueURL), Sender: send, Clock: f.clock, Log: log,
		Health: f.store, AutoDisableAfter: window,
		Raise: func(ctx context.Context, ev *herald.Event, s *herald.Subject) error {
			_, err := events.Raise(ctx, ev, s)
			return err
		}})
	opsRcv = newReceiver(t)
	ops = f.addWebhook(t, "ops", opsRcv.URL+"/ops", herald.Trigger{EntityType: herald.EntityWebhook, EventTypes: herald.EventTypes(herald.EntityWebhook)})
	// The fixture's webhook subscribes too: what it is sent about itself
	// would show here.
	cur, _ := f.store.GetWebhook(context.Background(), "p1", f.hook.ID)
	upd, err := cur.Update(herald.WebhookInput{Events: herald.Some(append(slices.Clone(cur.Events),
		herald.Trigger{EntityType: herald.EntityWebhook, EventTypes: herald.EventTypes(herald.EntityWebhook)}))}, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.UpdateWebhook(context.Background(), cur, upd); err != nil {
		t.Fatal(err)
	}
	f.hook = upd
	return ops, opsRcv
}

func (f *fixture) addWebhook(t *testing.T, name, url string, triggers ...herald.Trigger) *herald.Webhook {
	t.Helper()
	w, err := herald.NewWebhook("p1", herald.NewID(f.clock.Now()), herald.WebhookInput{
		Name: herald.Some(name), URL: herald.Some(url), CustomPayload: herald.Some[*string](nil),
		Headers: herald.Some(map[string]string{}), Events: herald.Some(triggers),
		HTTPBasicUser: herald.Some[*string](nil), HTTPBasicPassword: herald.Some[*string](nil),
	}, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	w.Secret.Current = signing.NewSecret()
	if err := f.store.CreateWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	return w
}

// operational lists the operational calls of the project, by webhook.
func (f *fixture) operational(t *testing.T) map[string][]*herald.Call {
	t.Helper()
	calls, _, err := f.store.ListCalls(context.Background(), "p1", herald.CallQuery{EntityType: herald.EntityWebhook, Limit: 500, Desc: true})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]*herald.Call{}
	for _, c := range calls {
		out[c.WebhookID] = append(out[c.WebhookID], c)
	}
	return out
}

func eventTypes(calls []*herald.Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.EventType)
	}
	slices.Sort(out)
	return out
}

func (f *fixture) health(t *testing.T) herald.Health {
	t.Helper()
	h, err := f.store.WebhookHealth(context.Background(), "p1", []string{f.hook.ID})
	if err != nil {
		t.Fatal(err)
	}
	return h[f.hook.ID]
}

// fail makes the fixture's receiver answer 500, or 200 again.
func (f *fixture) fail(on bool) {
	f.rcv.setRespond(func(w http.ResponseWriter, r *http.Request) {
		if on {
			http.Error(w, "down", 500)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
}

// TestHealthySuccessWritesNothing is the cost guarantee: with health kept,
// a healthy webhook's first-attempt success makes the AWS calls it made
// before health existed (the record, and the webhook read when it is not
// cached) and not one more.
func TestHealthySuccessWritesNothing(t *testing.T) {
	f := newFixture(t, nil)
	f.healthy(t, time.Hour)
	c := f.newCall(t)
	f.env.Calls.Reset()
	f.deliver(t, first(c))
	if want := map[string]int{"DynamoDB.GetItem": 1, "DynamoDB.UpdateItem": 1}; fmt.Sprint(f.env.Calls.Snapshot()) != fmt.Sprint(want) {
		t.Errorf("a healthy first-attempt success, webhook not cached: %v; want %v", f.env.Calls.Snapshot(), want)
	}
	c2 := f.newCall(t)
	f.env.Calls.Reset()
	f.deliver(t, first(c2))
	if want := map[string]int{"DynamoDB.UpdateItem": 1}; fmt.Sprint(f.env.Calls.Snapshot()) != fmt.Sprint(want) {
		t.Errorf("a healthy first-attempt success, webhook cached: %v; want %v", f.env.Calls.Snapshot(), want)
	}
	if h := f.health(t); h.Successes24h != 2 || h.LastSuccessAt == nil {
		t.Errorf("health: %+v; want the two successes, counted from the activity log", h)
	}
}

// TestFailingThenRecovered: the fourth failure in a row raises `failing`,
// once, to the subscriber and not to the failing webhook; the first
// success after it raises `recovered` and ends the incident, after which
// successes write nothing again.
func TestFailingThenRecovered(t *testing.T) {
	f := newFixture(t, nil)
	ops, _ := f.healthy(t, 0)
	f.fail(true)
	for i := 1; i <= 6; i++ {
		f.deliver(t, first(f.newCall(t)))
		h := f.health(t)
		if h.ConsecutiveFailures != i || h.FailingSince == nil {
			t.Fatalf("after %d failures: %+v", i, h)
		}
		got := f.operational(t)
		if want := map[bool]int{true: 1, false: 0}[i >= herald.FailingAfter]; len(got[ops.ID]) != want || len(got[f.hook.ID]) != 0 {
			t.Fatalf("after %d failures: operational calls %v; want %d failing to ops, none to the failing webhook", i, got, want)
		}
	}
	if mark, _ := f.store.GetWebhook(context.Background(), "p1", f.hook.ID); mark.Incident.IsZero() {
		t.Error("the webhook carries no incident mark")
	}

	f.fail(false)
	f.clock.Set(f.clock.Now().Add(time.Minute))
	f.deliver(t, first(f.newCall(t)))
	got := f.operational(t)
	if want := []string{herald.OpFailing, herald.OpRecovered}; !slices.Equal(eventTypes(got[ops.ID]), want) || len(got[f.hook.ID]) != 0 {
		t.Errorf("after the success: ops got %v, the webhook %d; want %v, none", eventTypes(got[ops.ID]), len(got[f.hook.ID]), want)
	}
	h := f.health(t)
	if h.ConsecutiveFailures != 0 || h.FailingSince != nil || h.Failures24h != 6 || h.Successes24h < 1 {
		t.Errorf("recovered: %+v", h)
	}
	if mark, _ := f.store.GetWebhook(context.Background(), "p1", f.hook.ID); !mark.Incident.IsZero() {
		t.Error("the incident mark is still on the webhook")
	}
	// Healthy again: the webhook read once, then nothing but the record.
	f.deliver(t, first(f.newCall(t)))
	next := f.newCall(t)
	f.env.Calls.Reset()
	f.deliver(t, first(next))
	if want := map[string]int{"DynamoDB.UpdateItem": 1}; fmt.Sprint(f.env.Calls.Snapshot()) != fmt.Sprint(want) {
		t.Errorf("a success after the recovery: %v; want %v", f.env.Calls.Snapshot(), want)
	}

	// A short streak (fewer than FailingAfter) raised nothing, so its end
	// raises nothing either.
	f.fail(true)
	f.deliver(t, first(f.newCall(t)))
	f.fail(false)
	f.clock.Set(f.clock.Now().Add(time.Minute))
	f.deliver(t, first(f.newCall(t)))
	if n := len(f.operational(t)[ops.ID]); n != 2 {
		t.Errorf("a one-failure streak raised something: ops has %d operational calls; want 2", n)
	}
}

// TestExhaustedOncePerHour: calls that use up their automatic attempts
// raise `exhausted` once per webhook per hour.
func TestExhaustedOncePerHour(t *testing.T) {
	f := newFixture(t, func(in *herald.WebhookInput) { in.AutoRetry = herald.Some(false) })
	ops, _ := f.healthy(t, 0)
	f.fail(true)
	for range 3 {
		f.deliver(t, first(f.newCall(t)))
	}
	count := func() int {
		n := 0
		for _, c := range f.operational(t)[ops.ID] {
			if c.EventType == herald.OpExhausted {
				n++
			}
		}
		return n
	}
	if n := count(); n != 1 {
		t.Errorf("three calls without retries failed within the hour: %d exhausted; want 1", n)
	}
	f.clock.Set(herald.Hour(f.clock.Now()).Add(time.Hour + time.Minute))
	f.deliver(t, first(f.newCall(t)))
	if n := count(); n != 2 {
		t.Errorf("one more, the next hour: %d exhausted; want 2", n)
	}
}

// TestAutoDisable: a webhook whose every attempt failed for the window is
// disabled, once, with its reason; `disabled` is raised; a retry due after
// is recorded as stopped, not sent. One success in the window prevents it.
func TestAutoDisable(t *testing.T) {
	f := newFixture(t, nil)
	ops, _ := f.healthy(t, 2*time.Hour)
	f.fail(true)
	start := f.clock.Now()
	pending := f.newCall(t)
	f.deliver(t, first(pending)) // rescheduled: retry 1 in 2 minutes
	f.clock.Set(start.Add(2*time.Hour - time.Second))
	f.deliver(t, first(f.newCall(t)))
	if w, _ := f.store.GetWebhook(context.Background(), "p1", f.hook.ID); !w.Enabled {
		t.Fatal("disabled before the window was over")
	}
	f.clock.Set(start.Add(2 * time.Hour))
	f.deliver(t, first(f.newCall(t)))
	w, _ := f.store.GetWebhook(context.Background(), "p1", f.hook.ID)
	if w.Enabled || w.DisabledReason != herald.DisabledAuto || w.DisabledAt == nil {
		t.Fatalf("after the window: enabled %v, reason %q, at %v", w.Enabled, w.DisabledReason, w.DisabledAt)
	}
	if got := eventTypes(f.operational(t)[ops.ID]); !slices.Contains(got, herald.OpDisabled) {
		t.Errorf("ops got %v; want disabled among them", got)
	}
	sent := len(f.rcv.got())
	f.deliver(t, herald.Job{ProjectID: "p1", CallID: pending.ID, Trigger: herald.TriggerAuto, Retry: 1})
	rec := f.call(t, pending.ID)
	last := rec.Attempts[len(rec.Attempts)-1]
	if len(f.rcv.got()) != sent || rec.Status != herald.StatusFailed || last.ErrorKind != herald.ErrKindDisabled ||
		!strings.Contains(last.Error, "disabled automatically") || rec.NextRetryAt != nil {
		t.Errorf("a retry after auto-disable: sent %d more, status %s, attempt %+v", len(f.rcv.got())-sent, rec.Status, last)
	}
	if n := strings.Count(strings.Join(eventTypes(f.operational(t)[ops.ID]), " "), herald.OpDisabled); n != 1 {
		t.Errorf("%d disabled events; want 1", n)
	}

	// Another webhook that succeeds once within its window is never
	// disabled.
	g := newFixture(t, nil)
	g.healthy(t, 2*time.Hour)
	g.fail(true)
	t0 := g.clock.Now()
	g.deliver(t, first(g.newCall(t)))
	g.clock.Set(t0.Add(time.Hour))
	g.fail(false)
	g.deliver(t, first(g.newCall(t)))
	g.fail(true)
	for _, at := range []time.Duration{time.Hour + time.Minute, 2 * time.Hour, 3*time.Hour - time.Second} {
		g.clock.Set(t0.Add(at))
		g.deliver(t, first(g.newCall(t)))
	}
	if w, _ := g.store.GetWebhook(context.Background(), "p1", g.hook.ID); !w.Enabled {
		t.Error("disabled, though it succeeded within the window")
	}
}

// TestPingGoesEvenToADisabledWebhook: a test send is sent to its webhook
// alone, disabled or not, is never retried, and counts nowhere in health.
func TestPingGoesEvenToADisabledWebhook(t *testing.T) {
	f := newFixture(t, nil)
	ops, opsRcv := f.healthy(t, time.Hour)
	ctx := context.Background()
	cur, _ := f.store.GetWebhook(ctx, "p1", f.hook.ID)
	off, _ := cur.Update(herald.WebhookInput{Enabled: herald.Some(false)}, f.clock.Now())
	if err := f.store.UpdateWebhook(ctx, cur, off); err != nil {
		t.Fatal(err)
	}
	f.fail(true)
	now := f.clock.Now().Truncate(time.Millisecond)
	id := herald.NewID(now)
	ev, _, err := herald.NewOperationalEvent(herald.OpPing, off, nil, &herald.Call{ID: id}, now, now)
	if err != nil {
		t.Fatal(err)
	}
	c := herald.NewCall(id, off, ev, now, 30*24*time.Hour)
	doc, _ := herald.MarshalPayload(c.Payload)
	if _, _, err := f.store.ClaimEvent(ctx, "p1", ev.EventID, []herald.CallRef{{WebhookID: off.ID, CallID: id}}, doc, c.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.CreateCall(ctx, c); err != nil {
		t.Fatal(err)
	}
	job := first(c)
	job.Replay = true // as the API queues it, on the standard queue
	f.deliver(t, job)
	got := f.rcv.got()
	if len(got) != 1 || got[0].header.Get("Webhook-Id") != id {
		t.Fatalf("the disabled webhook's receiver got %d requests; want the ping", len(got))
	}
	var body map[string]any
	_ = json.Unmarshal(got[0].body, &body)
	if body["entity_type"] != herald.EntityWebhook || body["event_type"] != herald.OpPing || body["entity"].(map[string]any)["id"] != off.ID {
		t.Errorf("ping body %s", got[0].body)
	}
	rec := f.call(t, id)
	if rec.Status != herald.StatusFailed || rec.NextRetryAt != nil || rec.NextAuto != nil {
		t.Errorf("a failed ping: %s, next %v; want failed, no retry", rec.Status, rec.NextRetryAt)
	}
	if h := f.health(t); h.Failures24h != 0 || h.ConsecutiveFailures != 0 {
		t.Errorf("the ping counted in health: %+v", h)
	}
	if n := len(opsRcv.got()) + len(f.operational(t)[ops.ID]); n != 0 {
		t.Errorf("a ping reached ops (%d)", n)
	}
}

// TestOperationalCallsRaiseNothing: a subscriber whose receiver fails every
// operational call gets no health and raises nothing, however long it
// fails: no loops, no storms.
func TestOperationalCallsRaiseNothing(t *testing.T) {
	f := newFixture(t, nil)
	ops, opsRcv := f.healthy(t, time.Minute)
	opsRcv.setRespond(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "ops is down too", 500) })
	f.fail(true)
	for range herald.FailingAfter {
		f.deliver(t, first(f.newCall(t)))
	}
	calls := f.operational(t)[ops.ID]
	if len(calls) != 1 {
		t.Fatalf("ops has %d operational calls; want failing", len(calls))
	}
	// Deliver it, and its retries, failing, past ops's own auto-disable
	// window.
	job := first(calls[0])
	job.Payload = nil
	f.deliver(t, job)
	for retry := 1; retry <= 3; retry++ {
		f.clock.Set(f.clock.Now().Add(2 * time.Hour))
		f.deliver(t, herald.Job{ProjectID: "p1", CallID: calls[0].ID, Trigger: herald.TriggerAuto, Retry: retry})
	}
	if n := len(opsRcv.got()); n != 4 {
		t.Fatalf("ops's receiver got %d attempts; want 4", n)
	}
	h, _ := f.store.WebhookHealth(context.Background(), "p1", []string{ops.ID})
	if got := h[ops.ID]; got.Failures24h != 0 || got.ConsecutiveFailures != 0 {
		t.Errorf("ops's failing operational calls counted: %+v", got)
	}
	if w, _ := f.store.GetWebhook(context.Background(), "p1", ops.ID); !w.Enabled {
		t.Error("ops was disabled by its operational calls' failures")
	}
	if all := f.operational(t); len(all[ops.ID]) != 1 || len(all[f.hook.ID]) != 0 {
		t.Errorf("operational calls after ops failed: %v; want only the one failing", all)
	}
}

// TestRecoveredOnceForManySuccesses: successes that end an incident at the
// same time (a batch of resends) raise `recovered` once.
func TestRecoveredOnceForManySuccesses(t *testing.T) {
	f := newFixture(t, nil)
	ops, _ := f.healthy(t, 0)
	f.fail(true)
	for range herald.FailingAfter {
		f.deliver(t, first(f.newCall(t)))
	}
	f.fail(false)
	f.clock.Set(f.clock.Now().Add(time.Minute))
	var jobs []herald.Job
	for range 5 {
		jobs = append(jobs, first(f.newCall(t)))
	}
	f.deliver(t, jobs...)
	if got := eventTypes(f.operational(t)[ops.ID]); !slices.Equal(got, []string{herald.OpFailing, herald.OpRecovered}) {
		t.Errorf("five successes at once: ops got %v; want failing, then recovered once", got)
	}
}

// TestRecoveredIsRaisedByTheNextSuccess: when `recovered` cannot be raised
// as the incident closes, the next success raises it.
func TestRecoveredIsRaisedByTheNextSuccess(t *testing.T) {
	f := newFixture(t, nil)
	ops, _ := f.healthy(t, 0)
	send, _ := sender.New(sender.Options{AllowPrivate: true, Clock: f.clock, TotalTimeout: 3 * time.Second})
	events := ingest.New(ingest.Deps{Store: f.store, Queue: sqs.New(f.env.SQS, f.env.FirstURL), Clock: f.clock,
		Log: slog.New(slog.DiscardHandler), Retention: 30 * 24 * time.Hour, WebhookTTL: time.Nanosecond})
	failRecovered := true
	f.handler = delivery.New(delivery.Deps{Store: f.store, Queue: sqs.New(f.env.SQS, f.env.QueueURL), Sender: send, Clock: f.clock,
		Log: slog.New(slog.DiscardHandler), Health: f.store,
		Raise: func(ctx context.Context, ev *herald.Event, s *herald.Subject) error {
			if ev.EventType == herald.OpRecovered && failRecovered {
				failRecovered = false
				return fmt.Errorf("injected: the first-attempt queue is unreachable")
			}
			_, err := events.Raise(ctx, ev, s)
			return err
		}})
	f.fail(true)
	for range herald.FailingAfter {
		f.deliver(t, first(f.newCall(t)))
	}
	f.fail(false)
	f.clock.Set(f.clock.Now().Add(time.Minute))
	f.deliver(t, first(f.newCall(t)))
	if got := eventTypes(f.operational(t)[ops.ID]); !slices.Equal(got, []string{herald.OpFailing}) {
		t.Fatalf("the raise failed: ops got %v", got)
	}
	if w, _ := f.store.GetWebhook(context.Background(), "p1", f.hook.ID); w.Incident.IsZero() {
		t.Fatal("the mark was cleared though recovered is owed: the next success would write nothing")
	}
	f.clock.Set(f.clock.Now().Add(time.Minute))
	f.deliver(t, first(f.newCall(t)))
	if got := eventTypes(f.operational(t)[ops.ID]); !slices.Equal(got, []string{herald.OpFailing, herald.OpRecovered}) {
		t.Errorf("the next success: ops got %v; want recovered raised now", got)
	}
	if w, _ := f.store.GetWebhook(context.Background(), "p1", f.hook.ID); !w.Incident.IsZero() {
		t.Error("the mark is still there")
	}
}

// TestABatchOfFailuresMarksItsWebhookOnce: the attempts of one batch read
// the same cached webhook; the incident's mark is written once, not by each
// (a conditional write is billed even when refused).
func TestABatchOfFailuresMarksItsWebhookOnce(t *testing.T) {
	f := newFixture(t, nil)
	send, err := sender.New(sender.Options{AllowPrivate: true, Clock: f.clock, TotalTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f.handler = delivery.New(delivery.Deps{Store: f.store, Queue: sqs.New(f.env.SQS, f.env.QueueURL), Sender: send, Clock: f.clock,
		Log: slog.New(slog.DiscardHandler), Health: f.store})
	f.deliver(t, first(f.newCall(t))) // a success: the webhook read and cached, unmarked
	f.fail(true)
	var jobs []herald.Job
	for range 10 {
		jobs = append(jobs, first(f.newCall(t)))
	}
	f.env.Calls.Reset()
	f.deliver(t, jobs...)
	// Per attempt: the record and the health; once: the mark, and what
	// records that failing was raised (it raises nothing here).
	if got, want := f.env.Calls.Get("DynamoDB.UpdateItem"), 10+10+1+1; got != want {
		t.Errorf("ten failures in a batch: %d UpdateItem; want %d", got, want)
	}
	if w, _ := f.store.GetWebhook(context.Background(), "p1", f.hook.ID); w.Incident.IsZero() {
		t.Error("the webhook is not marked")
	}
}
