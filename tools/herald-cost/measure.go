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
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
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
// with a local receiver.
type rig struct {
	moto     *localstack.Moto
	table    string
	queueURL string // retries and resends
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
}

func newRig(ctx context.Context, d deployment, matches int, accounting bool) (*rig, error) {
	moto, err := localstack.StartMoto(ctx, 0, nil)
	if err != nil {
		return nil, err
	}
	r := &rig{moto: moto}
	res, err := localstack.CreateResources(ctx, moto.URL, "cost")
	if err != nil {
		r.Close()
		return nil, err
	}
	for _, t := range res.Tables {
		r.table = t.Name
	}
	r.queueURL = res.Queues["DeliveryQueue"].URL
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
		r.Close()
		return nil, err
	}

	clock := herald.SystemClock{}
	store := dynamo.New(dynamo.Deps{DB: db, Table: r.table, Clock: clock})
	r.logs = &countingWriter{}
	log := config.Logger(r.logs, slog.LevelInfo)
	send, err := sender.New(sender.Options{AllowPrivate: true, Clock: clock})
	if err != nil {
		r.Close()
		return nil, err
	}
	r.queue = &capturingQueue{Queue: sqs.New(q, r.queueURL)}
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
	if _, err := dynamo.New(dynamo.Deps{DB: r.peekDB, Table: r.table, Clock: clock}).Seed(ctx, "cost", "", "", hooks...); err != nil {
		r.Close()
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

// measure runs a phase: reset the counts, run f over units, read them.
func (r *rig) measure(units int, f func() (invocations int, err error)) (phase, error) {
	r.counter.Reset()
	r.capacity.Reset()
	logs0 := r.logs.n.Load()
	cpu0 := benchkit.ProcessCPU()
	start := time.Now()
	inv, err := f()
	if err != nil {
		return phase{}, err
	}
	return phase{Units: units, Invocations: inv, Calls: r.counter.Snapshot(), Dynamo: r.capacity.Snapshot(),
		CPU: benchkit.ProcessCPU() - cpu0, Wall: time.Since(start), LogBytes: r.logs.n.Load() - logs0}, nil
}

// ingestEvents invokes ingest once per event, as the CMS does.
func (r *rig) ingestEvents(ctx context.Context, prefix string, n int) (int, error) {
	for i := range n {
		reply, err := r.ingest.Handle(ctx, json.RawMessage(benchkit.RecordUpdate("cost", fmt.Sprintf("%s-%04d", prefix, i), "1423")))
		if err != nil {
			return 0, fmt.Errorf("ingest: %w", err)
		}
		if reply.Accepted != 1 {
			return 0, fmt.Errorf("ingest: %+v", reply)
		}
	}
	return n, nil
}

// drain receives every first-attempt job on the FIFO queue, uncounted (the
// event source mapping's requests are billed, but made by AWS, and added by
// the model), with the attributes the mapping passes on.
func (r *rig) drain(ctx context.Context, want int) ([]events.SQSMessage, error) {
	var out []events.SQSMessage
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < want {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("drain: %d of %d messages", len(out), want)
		}
		res, err := r.peekSQS.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(r.firstURL), MaxNumberOfMessages: 10,
			VisibilityTimeout: 600, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			return nil, fmt.Errorf("drain: %w", err)
		}
		for _, m := range res.Messages {
			out = append(out, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), Attributes: m.Attributes})
			if _, err := r.peekSQS.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(r.firstURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return nil, fmt.Errorf("drain: %w", err)
			}
		}
	}
	return out, nil
}

// deliver hands messages to the delivery handler in batches, as the event
// source mapping does.
func (r *rig) deliver(ctx context.Context, msgs []events.SQSMessage, batch int) (int, error) {
	inv := 0
	for start := 0; start < len(msgs); start += batch {
		ev := events.SQSEvent{Records: msgs[start:min(start+batch, len(msgs))]}
		resp, err := r.delivery.HandleSQS(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) > 0 {
			return inv, fmt.Errorf("deliver: %v %+v", err, resp.BatchItemFailures)
		}
		inv++
	}
	return inv, nil
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
	if _, err := r.ingestEvents(ctx, "warm", 1); err != nil {
		return m, err
	}
	warm, err := r.drain(ctx, matches)
	if err != nil {
		return m, err
	}
	if _, err := r.deliver(ctx, warm, batch); err != nil {
		return m, err
	}

	// A first attempt that succeeds.
	if m.Ingest, err = r.measure(n, func() (int, error) { return r.ingestEvents(ctx, "ok", n) }); err != nil {
		return m, err
	}
	msgs, err := r.drain(ctx, calls)
	if err != nil {
		return m, err
	}
	if m.FirstSuccess, err = r.measure(calls, func() (int, error) { return r.deliver(ctx, msgs, batch) }); err != nil {
		return m, err
	}
	if got := r.rcv.Calls(); got != calls+matches {
		return m, fmt.Errorf("the receiver got %d calls; want %d", got, calls+matches)
	}
	if err := r.sizeItems(ctx, &m); err != nil {
		return m, err
	}

	// A call whose first attempt fails, then its retry succeeds.
	if _, err := r.ingestEvents(ctx, "retry", n); err != nil {
		return m, err
	}
	if msgs, err = r.drain(ctx, calls); err != nil {
		return m, err
	}
	if err := r.rcv.SetFaults(harness.Faults{Fail: 1}); err != nil {
		return m, err
	}
	r.queue.take()
	if m.FailedAttempt, err = r.measure(calls, func() (int, error) { return r.deliver(ctx, msgs, batch) }); err != nil {
		return m, err
	}
	if err := r.rcv.SetFaults(harness.Faults{}); err != nil {
		return m, err
	}
	retries := r.queue.take()
	if len(retries) != calls {
		return m, fmt.Errorf("%d retries queued; want %d", len(retries), calls)
	}
	if m.RetrySuccess, err = r.measure(calls, func() (int, error) { return r.deliver(ctx, jobMessages(retries), batch) }); err != nil {
		return m, err
	}

	// The sweeper's minute, with nothing parked. The first sweep of a
	// stack also runs the table's upgrade (a Scan, once, then one read per
	// cold instance): done before measuring, it is not a minute's cost.
	if _, err := r.delivery.Sweep(ctx); err != nil {
		return m, err
	}
	m.Sweep, err = r.measure(1, func() (int, error) {
		_, err := r.delivery.Sweep(ctx)
		return 1, err
	})
	return m, err
}

// sizeItems reads what the table holds per call and per event once the
// calls are delivered: the storage the retention period keeps. Calls live in
// the activity log's partitions (L#…), events under E#….
func (r *rig) sizeItems(ctx context.Context, m *Measurement) error {
	tmplIdx := r.capacity.indexes
	var calls, evs int
	var callBytes, idxBytes, eventBytes int
	var start map[string]ddbtypes.AttributeValue
	for {
		out, err := r.peekDB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(r.table), ExclusiveStartKey: start})
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		for _, it := range out.Items {
			switch dynamo.KindOf(it) {
			case dynamo.KindCall:
				calls++
				callBytes += itemSize(it)
				for _, idx := range tmplIdx {
					if e := r.capacity.project(idx, it); e != nil {
						idxBytes += itemSize(e)
					}
				}
			case dynamo.KindEvent:
				evs++
				eventBytes += itemSize(it)
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	if calls == 0 || evs == 0 {
		return fmt.Errorf("the table holds %d calls and %d events", calls, evs)
	}
	m.CallItemBytes = float64(callBytes) / float64(calls)
	m.CallIndexBytes = float64(idxBytes) / float64(calls)
	m.EventItemBytes = float64(eventBytes) / float64(evs)
	return nil
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
