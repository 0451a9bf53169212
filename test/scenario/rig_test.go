package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/heraldhq/herald/shared/delivery"
	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/httpapi"
	"github.com/heraldhq/herald/shared/ingest"
	"github.com/heraldhq/herald/shared/sender"
	"github.com/heraldhq/herald/shared/signing"
	"github.com/heraldhq/herald/test/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// clockQueue stands in for an SQS queue: a job is due when the clock has
// passed its delay. It satisfies every queue interface the handlers take.
// As the first-attempt queue (fifo), it drops a job for a call queued in
// the five minutes before, as SQS's deduplication by call id does.
type clockQueue struct {
	clock *testenv.Clock
	fifo  bool
	mu    sync.Mutex
	jobs  []queued
	sent  map[string]time.Time // fifo: when a job for the call was queued
}

type queued struct {
	job herald.Job
	due time.Time
}

func (q *clockQueue) Send(_ context.Context, job herald.Job, delay time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	if q.fifo {
		if at, ok := q.sent[job.CallID]; ok && now.Sub(at) < 5*time.Minute {
			return nil
		}
		q.sent[job.CallID] = now
	}
	q.jobs = append(q.jobs, queued{job, now.Add(max(delay, 0))})
	return nil
}

func (q *clockQueue) SendAll(ctx context.Context, jobs []herald.Job) error {
	for _, j := range jobs {
		_ = q.Send(ctx, j, 0)
	}
	return nil
}

func (q *clockQueue) SendDelayed(ctx context.Context, jobs []herald.DelayedJob) error {
	for _, j := range jobs {
		_ = q.Send(ctx, j.Job, j.Delay)
	}
	return nil
}

// take removes and returns the jobs due now.
func (q *clockQueue) take() []herald.Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	var due []herald.Job
	kept := q.jobs[:0]
	for _, j := range q.jobs {
		if !j.due.After(now) {
			due = append(due, j.job)
		} else {
			kept = append(kept, j)
		}
	}
	q.jobs = kept
	return due
}

// next is when the earliest job waiting is due; ok false when none waits.
func (q *clockQueue) next() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var t time.Time
	for _, j := range q.jobs {
		if t.IsZero() || j.due.Before(t) {
			t = j.due
		}
	}
	return t, !t.IsZero()
}

// receiver is a real HTTP server that records each request and answers
// with the status set.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	got    []request
}

type request struct {
	webhookID string // the webhook-id header: the call
	body      map[string]any
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{status: http.StatusOK}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		r.mu.Lock()
		r.got = append(r.got, request{webhookID: req.Header.Get("Webhook-Id"), body: body})
		status := r.status
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) answer(status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = status
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.got...)
}

// operational lists the operational events a receiver got, as
// "<event type> about <webhook id>", sorted.
func (r *receiver) operational() []string {
	var out []string
	for _, req := range r.requests() {
		if req.body["entity_type"] == herald.EntityWebhook {
			entity, _ := req.body["entity"].(map[string]any)
			out = append(out, fmt.Sprintf("%s about %v", req.body["event_type"], entity["id"]))
		}
	}
	sort.Strings(out)
	return out
}

// rig is the API, ingest and delivery in this process.
type rig struct {
	t        *testing.T
	clock    *testenv.Clock
	store    *dynamo.Store
	api      *httptest.Server
	token    string
	ingest   *ingest.Handler
	delivery *delivery.Handler
	first    *clockQueue // ingest's, and operational events'
	retries  *clockQueue // retries, resends, test sends
	logs     *testenv.Buffer
}

const project = "scenario"

func newRig(t *testing.T, start time.Time, autoDisableAfter time.Duration) *rig {
	t.Helper()
	env := testenv.New(t)
	c := testenv.NewClock(start)
	store := dynamo.New(dynamo.Deps{DB: env.DB, Table: env.Table, Clock: c})
	log, logs := testenv.Logger(t, "scenario")
	r := &rig{t: t, clock: c, store: store, logs: logs, first: &clockQueue{clock: c, fifo: true, sent: map[string]time.Time{}}, retries: &clockQueue{clock: c}}
	r.ingest = ingest.New(ingest.Deps{Store: store, Queue: r.first, Clock: c, Log: log, Retention: 30 * 24 * time.Hour})
	send, err := sender.New(sender.Options{AllowPrivate: true, Clock: c, TotalTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r.delivery = delivery.New(delivery.Deps{Store: store, Queue: r.retries, Sender: send, Clock: c, Log: log,
		Health: store, AutoDisableAfter: autoDisableAfter,
		Raise: func(ctx context.Context, ev *herald.Event, s *herald.Subject) error {
			_, err := r.ingest.Raise(ctx, ev, s)
			return err
		}})
	r.api = httptest.NewServer(httpapi.New(httpapi.Deps{Webhooks: store, Calls: store, Tokens: store, Health: store,
		Queue: r.retries, Clock: c, Log: log, NewSecret: signing.NewSecret}))
	t.Cleanup(r.api.Close)
	r.token = herald.NewToken()
	testenv.Secret(t, r.token)
	if err := store.PutToken(context.Background(), herald.HashToken(r.token), project, "scenario"); err != nil {
		t.Fatal(err)
	}
	return r
}

// call sends one API request and decodes the answer.
func (r *rig) call(method, path string, body any) (int, map[string]any) {
	r.t.Helper()
	return testenv.CallAPI(r.t, r.api.URL, r.token, method, path, body)
}

// createWebhook creates a webhook through the API.
func (r *rig) createWebhook(name, url string, triggers ...map[string]any) string {
	r.t.Helper()
	events := make([]any, len(triggers))
	for i, tr := range triggers {
		events[i] = tr
	}
	status, out := r.call("POST", "/webhooks", map[string]any{"data": map[string]any{"type": "webhook", "attributes": map[string]any{
		"name": name, "url": url, "custom_payload": nil, "headers": map[string]any{}, "events": events,
		"http_basic_user": nil, "http_basic_password": nil}}})
	if status != 201 {
		r.t.Fatalf("create %s: %d %v", name, status, out)
	}
	return out["data"].(map[string]any)["id"].(string)
}

// webhook reads a webhook's attributes through the API.
func (r *rig) webhook(id string) map[string]any {
	r.t.Helper()
	status, out := r.call("GET", "/webhooks/"+id, nil)
	if status != 200 {
		r.t.Fatalf("get webhook %s: %d %v", id, status, out)
	}
	return out["data"].(map[string]any)["attributes"].(map[string]any)
}

func (r *rig) health(id string) map[string]any {
	r.t.Helper()
	return r.webhook(id)["health"].(map[string]any)
}

// event ingests a record update, as the CMS would.
func (r *rig) event(id string) ingest.Result {
	r.t.Helper()
	raw := fmt.Sprintf(`{"project_id":%q,"event_id":%q,"environment":"main","is_environment_primary":true,"entity_type":"item",
		"event_type":"update","event_triggered_at":%q,"entity":{"id":"293467","type":"item","attributes":{"title":"Hello"}}}`,
		project, id, r.clock.Now().Format(time.RFC3339))
	reply, err := r.ingest.Handle(context.Background(), json.RawMessage(raw))
	if err != nil {
		r.t.Fatal(err)
	}
	return reply.Results[0]
}

// pump hands every due job to delivery, as the event source mappings do,
// until none is due.
func (r *rig) pump() {
	r.t.Helper()
	for {
		jobs := append(r.first.take(), r.retries.take()...)
		if len(jobs) == 0 {
			return
		}
		for start := 0; start < len(jobs); start += 10 {
			var msgs []events.SQSMessage
			for _, j := range jobs[start:min(start+10, len(jobs))] {
				body, err := herald.EncodeJob(j)
				if err != nil {
					r.t.Fatal(err)
				}
				msgs = append(msgs, events.SQSMessage{MessageId: herald.NewID(time.Now()), Body: string(body),
					Attributes: map[string]string{"ApproximateReceiveCount": "1"}})
			}
			res, err := r.delivery.HandleSQS(context.Background(), events.SQSEvent{Records: msgs})
			if err != nil || len(res.BatchItemFailures) > 0 {
				r.t.Fatalf("delivery: %v, %d failures\n%s", err, len(res.BatchItemFailures), tail(r.logs.String()))
			}
		}
	}
}

// advance moves the clock to `to` as time would pass: each job is handed
// over when it falls due, and the sweep runs whenever a parked retry comes
// within its reach (it runs every minute; between, it would find nothing).
func (r *rig) advance(to time.Time) {
	r.t.Helper()
	for {
		r.pump()
		now := r.clock.Now()
		if !now.Before(to) {
			return
		}
		step := to
		if next, ok := r.first.next(); ok && next.Before(step) {
			step = next
		}
		if next, ok := r.retries.next(); ok && next.Before(step) {
			step = next
		}
		if parked, ok := r.nextParked(step); ok {
			if reach := parked.Add(-10 * time.Minute); reach.After(now) && reach.Before(step) {
				step = reach
			}
		}
		r.clock.Set(step)
		if _, err := r.delivery.Sweep(context.Background()); err != nil {
			r.t.Fatal(err)
		}
	}
}

// nextParked is when the earliest retry parked in the table is due, if one
// is due before until.
func (r *rig) nextParked(until time.Time) (time.Time, bool) {
	r.t.Helper()
	var first time.Time
	for shard := range r.store.DueShards() {
		due, err := r.store.DueRetries(context.Background(), shard, until, nil, 1)
		if err != nil {
			r.t.Fatal(err)
		}
		if len(due) > 0 && (first.IsZero() || due[0].Due.Before(first)) {
			first = due[0].Due
		}
	}
	return first, !first.IsZero()
}

func tail(s string) string {
	if len(s) > 4000 {
		return s[len(s)-4000:]
	}
	return strings.TrimSpace(s)
}
