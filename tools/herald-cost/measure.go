package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/shared/delivery"
	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/ingest"
	"github.com/heraldhq/herald/shared/sender"
	"github.com/heraldhq/herald/shared/sqs"
	"github.com/heraldhq/herald/test/benchkit"
	"github.com/heraldhq/herald/test/testenv"
	"github.com/heraldhq/herald/tools/harness"
	"github.com/heraldhq/herald/tools/localstack"
)

// phase is what one step of a scenario cost, in total over its units (events
// or calls): AWS calls as the SDK made them, request units, the process's
// CPU, wall time per invocation, and bytes logged.
type phase struct {
	Units       int
	Invocations int
	Calls       map[string]int // "DynamoDB.PutItem" → count
	Dynamo      map[string]usage
	CPU         time.Duration
	Wall        time.Duration // summed over invocations
	LogBytes    int64
}

// Measurement is every phase the cost model reads, and what the table
// stores per call once the scenario is over.
type Measurement struct {
	Matches        int   // webhooks per event
	Ingest         phase // per event
	FirstSuccess   phase // per call: one attempt, delivered
	FailedAttempt  phase // per call: one attempt, the receiver answered 500
	RetrySuccess   phase // per call: the retry that then succeeded
	Sweep          phase // per sweep (once a minute), nothing parked
	CallItemBytes  float64
	CallIndexBytes float64 // index entries of a delivered call (none today)
	EventItemBytes float64
}

// rig is Herald's ingest and delivery handlers in this process, on moto,
// with a local receiver. Once a step fails the steps after it do nothing,
// and run returns the first error (err).
type rig struct {
	moto     *localstack.Moto
	table    string
	firstURL string // first attempts (FIFO)
	counter  *testenv.Counter
	capacity *capacity
	peekDB   *dynamodb.Client
	peekSQS  *awssqs.Client

	ingest   *ingest.Handler
	delivery *delivery.Handler
	queue    *capturingQueue
	logs     *countingWriter
	rcv      *harness.Receiver
	err      error
}

func newRig(ctx context.Context, d deployment, matches int, accounting bool) (_ *rig, err error) {
	moto, err := localstack.StartMoto(ctx, 0, nil)
	if err != nil {
		return nil, err
	}
	r := &rig{moto: moto}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	res, err := localstack.CreateResources(ctx, moto.URL, "cost")
	if err != nil {
		return nil, err
	}
	for _, t := range res.Tables {
		r.table = t.Name
	}
	r.firstURL = res.Queues["FirstAttemptQueue"].URL

	plain := testenv.AWSConfig(moto.URL)
	r.peekDB, r.peekSQS = dynamodb.NewFromConfig(plain), awssqs.NewFromConfig(plain)
	counted := testenv.AWSConfig(moto.URL)
	config.Tune(&counted) // as the functions' clients are (config.AWS)
	r.counter = testenv.NewCounter()
	r.counter.Attach(&counted)
	r.capacity = newCapacity(r.peekDB, []string{"PK", "SK"}, d.Indexes)
	if accounting {
		// Accounting reads every written item twice: it would show in
		// the CPU and wall figures, so those come from a run without it.
		r.capacity.Attach(&counted)
	}
	db, q := dynamodb.NewFromConfig(counted, config.DynamoDBOptions), awssqs.NewFromConfig(counted, config.SQSOptions)

	if r.rcv, err = harness.StartReceiver(harness.ReceiverOptions{}); err != nil {
		return nil, err
	}

	clock := herald.SystemClock{}
	store := dynamo.New(dynamo.Deps{DB: db, Table: r.table, Clock: clock})
	r.logs = &countingWriter{}
	log := config.Logger(r.logs, slog.LevelInfo)
	send, err := sender.New(sender.Options{AllowPrivate: true, Clock: clock})
	if err != nil {
		return nil, err
	}
	r.queue = &capturingQueue{Queue: sqs.New(q, res.Queues["DeliveryQueue"].URL)}
	r.ingest = ingest.New(ingest.Deps{Store: store, Queue: sqs.New(q, r.firstURL), Clock: clock, Log: log,
		Retention: time.Duration(d.RetentionDays) * 24 * time.Hour})
	// Delivery as the function wires it, health included
	// (docs/endpoint-health.md): what health costs shows in each phase.
	r.delivery = delivery.New(delivery.Deps{Store: store, Queue: r.queue, Sender: send, Clock: clock, Log: log,
		Health: store, AutoDisableAfter: herald.DefaultAutoDisableAfter,
		Raise: func(ctx context.Context, ev *herald.Event, s *herald.Subject) error {
			_, err := r.ingest.Raise(ctx, ev, s)
			return err
		}})

	// The project: webhooks that each match every record update, with
	// the default payload and a signing secret.
	hooks := make([]dynamo.SeedWebhook, matches)
	for i := range hooks {
		hooks[i] = dynamo.SeedWebhook{Name: fmt.Sprintf("hook %d", i), URL: r.rcv.URL + "/hooks",
			Events: []herald.Trigger{{EntityType: "item", EventTypes: []string{"update"}}}}
	}
	if _, err = dynamo.New(dynamo.Deps{DB: r.peekDB, Table: r.table, Clock: clock}).Seed(ctx, "cost", "", "", hooks...); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rig) Close() {
	if r.rcv != nil {
		_ = r.rcv.Close()
	}
	if r.moto != nil {
		r.moto.Stop()
	}
}

// check keeps the first error, saying what failed, and reports whether
// the steps may go on.
func (r *rig) check(what string, err error) bool {
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%s: %w", what, err)
	}
	return r.err == nil
}

// measure runs a phase: reset the counts, run f over units, read them.
func (r *rig) measure(units int, f func() (invocations int)) phase {
	r.counter.Reset()
	r.capacity.Reset()
	logs0 := r.logs.n.Load()
	cpu0 := benchkit.ProcessCPU()
	start := time.Now()
	inv := f()
	return phase{Units: units, Invocations: inv, Calls: r.counter.Snapshot(), Dynamo: r.capacity.Snapshot(),
		CPU: benchkit.ProcessCPU() - cpu0, Wall: time.Since(start), LogBytes: r.logs.n.Load() - logs0}
}

// ingestEvents invokes ingest once per event, as the CMS does.
func (r *rig) ingestEvents(ctx context.Context, prefix string, n int) int {
	for i := 0; i < n && r.err == nil; i++ {
		reply, err := r.ingest.Handle(ctx, json.RawMessage(benchkit.RecordUpdate("cost", fmt.Sprintf("%s-%04d", prefix, i), "1423")))
		if err == nil && reply.Accepted != 1 {
			err = fmt.Errorf("%+v", reply)
		}
		r.check("ingest", err)
	}
	return n
}

// drain receives every first-attempt job on the FIFO queue, uncounted (the
// event source mapping's requests are billed, but made by AWS, and added by
// the model), with the attributes the mapping passes on.
func (r *rig) drain(ctx context.Context, want int) []events.SQSMessage {
	var out []events.SQSMessage
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < want && r.err == nil {
		if time.Now().After(deadline) {
			r.check("drain", fmt.Errorf("%d of %d messages", len(out), want))
			break
		}
		res, err := r.peekSQS.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(r.firstURL), MaxNumberOfMessages: 10,
			VisibilityTimeout: 600, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if !r.check("drain", err) {
			break
		}
		for _, m := range res.Messages {
			out = append(out, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), Attributes: m.Attributes})
			_, err := r.peekSQS.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(r.firstURL), ReceiptHandle: m.ReceiptHandle})
			r.check("drain", err)
		}
	}
	return out
}

// deliver hands messages to the delivery handler in batches, as the event
// source mapping does.
func (r *rig) deliver(ctx context.Context, msgs []events.SQSMessage, batch int) int {
	inv := 0
	for start := 0; start < len(msgs) && r.err == nil; start += batch {
		resp, err := r.delivery.HandleSQS(ctx, events.SQSEvent{Records: msgs[start:min(start+batch, len(msgs))]})
		if err != nil || len(resp.BatchItemFailures) > 0 {
			r.check("deliver", fmt.Errorf("%v %+v", err, resp.BatchItemFailures))
		}
		inv++
	}
	return inv
}

// sweep runs the sweeper once: one invocation.
func (r *rig) sweep(ctx context.Context) int {
	if r.err == nil {
		_, err := r.delivery.Sweep(ctx)
		r.check("sweep", err)
	}
	return 1
}

func jobMessages(jobs []herald.Job) []events.SQSMessage {
	out := make([]events.SQSMessage, len(jobs))
	for i, j := range jobs {
		body, _ := json.Marshal(j)
		out[i] = events.SQSMessage{MessageId: fmt.Sprintf("retry-%d", i), Body: string(body),
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
	}
	return out
}

// run measures every phase with n events.
func run(ctx context.Context, d deployment, n, matches int, accounting bool) (Measurement, error) {
	batch := d.BatchSize
	r, err := newRig(ctx, d, matches, accounting)
	if err != nil {
		return Measurement{}, err
	}
	defer r.Close()
	m := Measurement{Matches: matches}
	calls := n * matches

	// Warm up: the webhook cache, connections, the SDK's first calls.
	r.ingestEvents(ctx, "warm", 1)
	r.deliver(ctx, r.drain(ctx, matches), batch)

	// A first attempt that succeeds.
	m.Ingest = r.measure(n, func() int { return r.ingestEvents(ctx, "ok", n) })
	msgs := r.drain(ctx, calls)
	m.FirstSuccess = r.measure(calls, func() int { return r.deliver(ctx, msgs, batch) })
	if got := r.rcv.Calls(); got != calls+matches {
		r.check("receiver", fmt.Errorf("got %d calls; want %d", got, calls+matches))
	}
	r.sizeItems(ctx, &m)

	// A call whose first attempt fails, then its retry succeeds.
	r.ingestEvents(ctx, "retry", n)
	msgs = r.drain(ctx, calls)
	r.check("receiver faults", r.rcv.SetFaults(harness.Faults{Fail: 1}))
	r.queue.take()
	m.FailedAttempt = r.measure(calls, func() int { return r.deliver(ctx, msgs, batch) })
	r.check("receiver faults", r.rcv.SetFaults(harness.Faults{}))
	retries := r.queue.take()
	if len(retries) != calls {
		r.check("retries", fmt.Errorf("%d queued; want %d", len(retries), calls))
	}
	m.RetrySuccess = r.measure(calls, func() int { return r.deliver(ctx, jobMessages(retries), batch) })

	// The sweeper's minute, with nothing parked. The first sweep of a
	// stack also runs the table's upgrade (a Scan, once, then one read per
	// cold instance): done before measuring, it is not a minute's cost.
	r.sweep(ctx)
	m.Sweep = r.measure(1, func() int { return r.sweep(ctx) })
	return m, r.err
}

// sizeItems reads what the table holds per call and per event once the
// calls are delivered: the storage the retention period keeps. Calls live in
// the activity log's partitions (L#…), events under E#….
func (r *rig) sizeItems(ctx context.Context, m *Measurement) {
	var calls, evs, callBytes, idxBytes, eventBytes int
	pages := dynamodb.NewScanPaginator(r.peekDB, &dynamodb.ScanInput{TableName: aws.String(r.table)})
	for pages.HasMorePages() && r.err == nil {
		out, err := pages.NextPage(ctx)
		if !r.check("scan", err) {
			return
		}
		for _, it := range out.Items {
			switch dynamo.KindOf(it) {
			case dynamo.KindCall:
				calls++
				callBytes += itemSize(it)
				for _, idx := range r.capacity.indexes {
					if e := r.capacity.project(idx, it); e != nil {
						idxBytes += itemSize(e)
					}
				}
			case dynamo.KindEvent:
				evs++
				eventBytes += itemSize(it)
			}
		}
	}
	if calls == 0 || evs == 0 {
		r.check("sizes", fmt.Errorf("the table holds %d calls and %d events", calls, evs))
		return
	}
	m.CallItemBytes = float64(callBytes) / float64(calls)
	m.CallIndexBytes = float64(idxBytes) / float64(calls)
	m.EventItemBytes = float64(eventBytes) / float64(evs)
}

// capturingQueue is the delivery handler's queue: it sends as the real one
// does (counted) and keeps the jobs, so that a retry can be delivered now
// rather than after its delay.
type capturingQueue struct {
	*sqs.Queue
	mu   sync.Mutex
	jobs []herald.Job
}

func (q *capturingQueue) Send(ctx context.Context, job herald.Job, delay time.Duration) error {
	q.mu.Lock()
	q.jobs = append(q.jobs, job)
	q.mu.Unlock()
	return q.Queue.Send(ctx, job, delay)
}

func (q *capturingQueue) take() []herald.Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	jobs := q.jobs
	q.jobs = nil
	return jobs
}

type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return len(p), nil
}
