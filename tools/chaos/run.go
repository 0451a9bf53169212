package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/ingest"
	"github.com/heraldhq/herald/shared/signing"
	"github.com/heraldhq/herald/tools/localstack"
)

// Config is one chaos run.
type Config struct {
	Events      int // events ingested
	Webhooks    int // 1 to 4; each has its own receiver and triggers
	IngestBatch int // events per ingest invocation; 25 if 0
	IngestProcs int // concurrent ingest invocations; 2 if 0

	AWS       AWSFaults
	Receivers ReceiverFaults

	// KillRate is the share of delivery invocations killed under way;
	// IngestKillRate the same for ingest. EmulatorKills is the share of
	// kills that kill the emulator process (restarted by the pool) rather
	// than the function's runtime.
	KillRate       float64
	IngestKillRate float64
	EmulatorKills  float64
	// KillFor is how long kills go on after the last event was ingested.
	KillFor time.Duration

	// VisibilityTimeout of both delivery queues for the run: how soon a
	// message of a killed batch comes back. Longer than delivery.Lease
	// (60 s), as the template's is, or the message would find the lease
	// of the killed attempt still held.
	VisibilityTimeout time.Duration
	// WaitRetries waits, after the queue is empty, for the automatic
	// retries already queued (2 and 6 minutes after a failure) to run.
	WaitRetries bool
	// Drain bounds the wait for the queue to empty.
	Drain time.Duration
	// Reingest is the share of events ingested a second time at the end,
	// which must create nothing (guarantee 2).
	Reingest float64

	PoolSizes map[string]int // instances of ingest and delivery; 2 and 3 if nil
	HostBuild string         // localstack.HostBuildDir() if ""
	Seed      uint64
	Logs      io.Writer    // the functions' output; discarded if nil
	Progress  *slog.Logger // what the run is doing; discarded if nil
}

// project is the run's project id.
const project = "chaos"

// Run brings up a local stack behind a fault proxy, ingests cfg.Events
// events while it kills invocations and receivers misbehave, waits for the
// queue to drain, and returns the ledger. The error is for a run that could
// not be carried out; an unbalanced ledger is reported by Ledger.Balanced.
func Run(ctx context.Context, cfg Config) (*Ledger, error) {
	cfg = withDefaults(cfg)
	log := cfg.Progress
	started := time.Now()

	moto, err := localstack.StartMoto(ctx, 0, io.Discard)
	if err != nil {
		return nil, err
	}
	defer moto.Stop()
	proxy, err := StartFaultProxy(moto.URL, cfg.AWS, cfg.Seed)
	if err != nil {
		return nil, err
	}
	defer proxy.Close()

	receivers := make([]*Receiver, cfg.Webhooks)
	for i := range receivers {
		name := "hook" + strconv.Itoa(i)
		// Held 12 s: longer than the sender's 8 s.
		if receivers[i], err = StartReceiver(name, cfg.Receivers, 12*time.Second, cfg.Seed+uint64(i)+10); err != nil {
			return nil, err
		}
		defer receivers[i].Close()
	}

	stack, err := localstack.Start(ctx, localstack.Options{
		MotoURL:   moto.URL,
		HostBuild: cfg.HostBuild,
		StackName: "herald-chaos",
		Functions: []string{localstack.IngestFunction, localstack.DeliveryFunction},
		PoolSizes: cfg.PoolSizes,
		Overrides: map[string]map[string]string{"Parameters": {
			"ALLOW_PRIVATE_TARGETS":     "true",
			"AWS_ENDPOINT_URL_DYNAMODB": proxy.URL,
			"AWS_ENDPOINT_URL_SQS":      proxy.URL,
		}},
		QueueAttributes: map[string]map[string]string{
			"DeliveryQueue":     {"VisibilityTimeout": strconv.Itoa(int(cfg.VisibilityTimeout / time.Second))},
			"FirstAttemptQueue": {"VisibilityTimeout": strconv.Itoa(int(cfg.VisibilityTimeout / time.Second))},
		},
		Logs: cfg.Logs,
		// The poller's and the emulators' own notes, beside the functions'.
		Logger: slog.New(slog.NewJSONHandler(cfg.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		return nil, err
	}
	defer stack.Stop()
	table, err := stack.TableName()
	if err != nil {
		return nil, err
	}
	store := dynamo.New(stack.DynamoDB(), table, herald.SystemClock{})
	hooks, err := createWebhooks(ctx, store, receivers)
	if err != nil {
		return nil, err
	}
	log.Info("stack up", "moto", moto.URL, "proxy", proxy.URL, "webhooks", len(hooks), "seconds", time.Since(started).Seconds())

	kills := &killLog{calls: map[string]int{}}
	killCtx, stopKills := context.WithCancel(ctx)
	defer stopKills()
	var killers sync.WaitGroup
	rng := rand.New(rand.NewPCG(cfg.Seed, 3)) // #nosec G404 -- seeded so a chaos run can be repeated; not a secret
	var rngMu sync.Mutex
	startKiller := func(pool *localstack.Pool, rate float64, delivery bool) {
		if rate <= 0 || pool == nil {
			return
		}
		killers.Add(1)
		go func() {
			defer killers.Done()
			kills.run(killCtx, pool, rate, cfg.EmulatorKills, delivery, rng, &rngMu)
		}()
	}
	startKiller(stack.Pool(localstack.DeliveryFunction), cfg.KillRate, true)
	startKiller(stack.Pool(localstack.IngestFunction), cfg.IngestKillRate, false)

	evs := makeEvents(cfg.Events, cfg.Seed)
	ing := &ingester{pool: stack.Pool(localstack.IngestFunction), log: log}
	replies, err := ing.ingestAll(ctx, evs, cfg.IngestBatch, cfg.IngestProcs)
	if err != nil {
		return nil, err
	}
	ingested := time.Since(started)
	log.Info("ingested", "events", len(evs), "invocations", ing.invocations.Load(), "failed_invocations", ing.failures.Load(), "seconds", ingested.Seconds())

	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(cfg.KillFor):
	}
	stopKills()
	killers.Wait()
	log.Info("kills stopped", "delivery", kills.delivery, "ingest", kills.ingest)

	queues := stack.Resources.Queues
	drained, err := waitDrained(ctx, stack.SQS(), []string{queues["FirstAttemptQueue"].URL, queues["DeliveryQueue"].URL},
		cfg.WaitRetries, cfg.Drain, log)
	if err != nil {
		return nil, err
	}

	// Guarantee 2: the same events again create nothing new.
	again := evs[:int(float64(len(evs))*cfg.Reingest)]
	reReplies, err := ing.ingestAll(ctx, again, cfg.IngestBatch, cfg.IngestProcs)
	if err != nil {
		return nil, err
	}

	// Retries still queued would otherwise go on sending while the ledger
	// reads the receivers' logs and then the table, and a send between the
	// two reads shows as an attempt the receiver never answered.
	stack.StopPolling()

	var dlq []dlqMessage
	for _, name := range []string{"FirstAttemptDLQ", "DeliveryDLQ"} {
		msgs, err := readDLQ(ctx, stack.SQS(), queues[name].URL)
		if err != nil {
			return nil, err
		}
		dlq = append(dlq, msgs...)
	}
	l, err := buildLedger(ctx, ledgerInput{
		store: store, db: stack.DynamoDB(), table: table, hooks: hooks,
		events: evs, replies: replies, reReplies: reReplies, dlq: dlq, kills: kills, proxy: proxy,
		cfg: cfg, drained: drained,
	})
	if err != nil {
		return nil, err
	}
	l.IngestSeconds = ingested.Seconds()
	l.TotalSeconds = time.Since(started).Seconds()
	l.IngestInvocations, l.IngestFailures = int(ing.invocations.Load()), int(ing.failures.Load())
	l.Faults = proxy.Counts()
	l.DeliveryKills, l.IngestKills = kills.delivery, kills.ingest
	return l, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Webhooks < 1 || cfg.Webhooks > len(hookTriggers) {
		cfg.Webhooks = 3
	}
	if cfg.IngestBatch <= 0 {
		cfg.IngestBatch = 25
	}
	if cfg.IngestProcs <= 0 {
		cfg.IngestProcs = 2
	}
	if cfg.VisibilityTimeout == 0 {
		cfg.VisibilityTimeout = 65 * time.Second
	}
	if cfg.Drain == 0 {
		cfg.Drain = 10 * time.Minute
	}
	if cfg.PoolSizes == nil {
		cfg.PoolSizes = map[string]int{localstack.IngestFunction: 2, localstack.DeliveryFunction: 3}
	}
	if cfg.Progress == nil {
		cfg.Progress = slog.New(slog.DiscardHandler)
	}
	if cfg.Logs == nil {
		cfg.Logs = io.Discard
	}
	return cfg
}

// hookTriggers are the webhooks' triggers, each matching a different share
// of the events; wantsEvent says the same in plain code for the ledger.
var hookTriggers = [][]herald.Trigger{
	{{EntityType: "item", EventTypes: []string{"create", "update", "publish", "delete"}}},
	{{EntityType: "item", EventTypes: []string{"publish", "delete"}}},
	{{EntityType: "item", EventTypes: []string{"update", "publish"},
		Filters: []herald.Filter{{EntityType: "item_type", EntityIDs: []string{"1423"}}}}},
	{{EntityType: "item", EventTypes: []string{"create", "update"}}},
}

func wantsEvent(hook int, ev chaosEvent) bool {
	switch hook {
	case 0:
		return true
	case 1:
		return ev.Type == "publish" || ev.Type == "delete"
	case 2:
		return (ev.Type == "update" || ev.Type == "publish") && ev.Model == "1423"
	case 3:
		return ev.Type == "create" || ev.Type == "update"
	}
	return false
}

// hook is a webhook of the run and its receiver.
type hook struct {
	id       string
	receiver *Receiver
}

func createWebhooks(ctx context.Context, store *dynamo.Store, receivers []*Receiver) ([]hook, error) {
	now := time.Now().UTC()
	var out []hook
	for i, r := range receivers {
		w, err := herald.NewWebhook(project, herald.NewID(now), herald.WebhookInput{
			Name: herald.Some(r.Name), URL: herald.Some(r.URL), CustomPayload: herald.Some[*string](nil),
			Headers: herald.Some(map[string]string{}), Events: herald.Some(hookTriggers[i]),
			HTTPBasicUser: herald.Some[*string](nil), HTTPBasicPassword: herald.Some[*string](nil),
		}, now)
		if err != nil {
			return nil, fmt.Errorf("webhook %s: %w", r.Name, err)
		}
		w.Secret = herald.Secret{Current: signing.NewSecret()}
		if err := store.CreateWebhook(ctx, w); err != nil {
			return nil, fmt.Errorf("create webhook %s: %w", r.Name, err)
		}
		out = append(out, hook{id: w.ID, receiver: r})
	}
	return out, nil
}

// chaosEvent is one event of the run.
type chaosEvent struct {
	ID    string
	Type  string // create, update, publish, delete
	Model string // the record's item type id
	Raw   json.RawMessage
}

func makeEvents(n int, seed uint64) []chaosEvent {
	types := []string{"create", "update", "publish", "delete"}
	models := []string{"1423", "77"}
	out := make([]chaosEvent, n)
	for i := range out {
		ev := chaosEvent{
			ID:    fmt.Sprintf("evt_chaos_%d_%06d", seed, i),
			Type:  types[i%len(types)],
			Model: models[(i/len(types))%len(models)],
		}
		ev.Raw, _ = json.Marshal(map[string]any{
			"project_id": project, "event_id": ev.ID, "environment": "main", "is_environment_primary": true,
			"entity_type": "item", "event_type": ev.Type, "event_triggered_at": "2026-11-27T03:00:00Z",
			"entity": map[string]any{"id": strconv.Itoa(100000 + i), "type": "item",
				"attributes":    map[string]any{"title": "Chaos " + strconv.Itoa(i)},
				"relationships": map[string]any{"item_type": map[string]any{"data": map[string]any{"id": ev.Model, "type": "item_type"}}}},
		})
		out[i] = ev
	}
	return out
}

// killLog counts the kills and the calls whose jobs were in a killed batch.
type killLog struct {
	mu       sync.Mutex
	delivery int
	ingest   int
	calls    map[string]int
}

// run watches the pool's instances and kills each invocation it sees start
// with probability rate, at a random moment within its first half second
// (the invocations of this run take from tens of milliseconds to seconds).
// Until one kill has succeeded it kills every invocation from the third on,
// so that even a short run has one.
func (k *killLog) run(ctx context.Context, pool *localstack.Pool, rate, emulatorShare float64, delivery bool, rng *rand.Rand, rngMu *sync.Mutex) {
	seen := make([]int, pool.Size())
	started := 0
	var killed atomic.Bool
	var kills sync.WaitGroup // returning after them, so the counts are final
	defer kills.Wait()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for i, inst := range pool.Instances() {
			running, n := inst.Running()
			if running == nil || n == seen[i] {
				continue
			}
			seen[i] = n
			started++
			rngMu.Lock()
			kill := rng.Float64() < rate || (!killed.Load() && started >= 3)
			emulator := rng.Float64() < emulatorShare
			delay := time.Duration(rng.Int64N(int64(500 * time.Millisecond)))
			rngMu.Unlock()
			if !kill {
				continue
			}
			kills.Go(func() {
				select {
				case <-ctx.Done():
					return
				case <-time.After(delay):
				}
				if _, now := inst.Running(); now != n {
					return // that invocation is over
				}
				if payload, ok := inst.CrashRuntime(emulator); ok {
					killed.Store(true)
					k.record(payload, delivery)
				}
			})
		}
	}
}

func (k *killLog) record(payload []byte, delivery bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !delivery {
		k.ingest++
		return
	}
	k.delivery++
	var ev events.SQSEvent
	if json.Unmarshal(payload, &ev) != nil {
		return
	}
	for _, r := range ev.Records {
		if job, err := herald.DecodeJob([]byte(r.Body)); err == nil {
			k.calls[job.CallID]++
		}
	}
}

func (k *killLog) killed(callID string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.calls[callID] > 0
}

// ingester invokes the ingest function as the CMS does: in batches, sending
// a batch again until it is accepted.
type ingester struct {
	pool        *localstack.Pool
	log         *slog.Logger
	invocations atomic.Int64
	failures    atomic.Int64
}

// maxIngestTries bounds how often one batch is sent.
const maxIngestTries = 30

func (ing *ingester) ingestAll(ctx context.Context, evs []chaosEvent, batch, procs int) (map[string]ingest.Result, error) {
	out := make(map[string]ingest.Result, len(evs))
	var mu sync.Mutex
	work := make(chan []chaosEvent)
	errs := make(chan error, procs)
	var wg sync.WaitGroup
	for range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				rs, err := ing.ingestBatch(ctx, b)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, r := range rs {
					out[r.EventID] = r
				}
				mu.Unlock()
			}
		}()
	}
	go func() {
		defer close(work)
		for i := 0; i < len(evs); i += batch {
			select {
			case work <- evs[i:min(i+batch, len(evs))]:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return out, nil
}

func (ing *ingester) ingestBatch(ctx context.Context, b []chaosEvent) ([]ingest.Result, error) {
	raws := make([]json.RawMessage, len(b))
	for i, ev := range b {
		raws[i] = ev.Raw
	}
	payload, _ := json.Marshal(map[string]any{"events": raws})
	var lastErr error
	for try := range maxIngestTries {
		ing.invocations.Add(1)
		answer, err := ing.pool.Invoke(ctx, payload)
		if err == nil {
			var reply ingest.Reply
			if err := json.Unmarshal(answer, &reply); err != nil || len(reply.Results) != len(b) {
				return nil, fmt.Errorf("ingest answered %s", answer)
			}
			return reply.Results, nil
		}
		var ferr *localstack.FunctionError
		if !errors.As(err, &ferr) {
			return nil, fmt.Errorf("invoke ingest: %w", err)
		}
		ing.failures.Add(1)
		lastErr = err
		ing.log.Debug("ingest failed; sending the batch again", "try", try+1, "error", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(try+1) * 100 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("a batch of %d events was not accepted after %d tries: %w", len(b), maxIngestTries, lastErr)
}

// waitDrained waits until the delivery queues have no message visible or in
// flight (and, with retries, none delayed) on three polls in a row.
func waitDrained(ctx context.Context, client *sqs.Client, queueURLs []string, retries bool, limit time.Duration, log *slog.Logger) (bool, error) {
	deadline := time.Now().Add(limit)
	quiet := 0
	last := time.Time{}
	for time.Now().Before(deadline) {
		var visible, inflight, delayed int
		for _, url := range queueURLs {
			c, err := localstack.CountMessages(ctx, client, url)
			if err != nil {
				return false, err
			}
			visible, inflight, delayed = visible+c.Visible, inflight+c.InFlight, delayed+c.Delayed
		}
		if time.Since(last) > 15*time.Second {
			log.Info("draining", "visible", visible, "in_flight", inflight, "delayed", delayed)
			last = time.Now()
		}
		if visible+inflight == 0 && (!retries || delayed == 0) {
			quiet++
			if quiet == 3 {
				return true, nil
			}
		} else {
			quiet = 0
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return false, nil
}

// dlqMessage is a message found in the dead-letter queue.
type dlqMessage struct {
	Job  herald.Job
	Body string
}

func readDLQ(ctx context.Context, client *sqs.Client, queueURL string) ([]dlqMessage, error) {
	var out []dlqMessage
	seen := map[string]bool{}
	for empty := 0; empty < 2; {
		res, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10,
			VisibilityTimeout: 300, WaitTimeSeconds: 1})
		if err != nil {
			return nil, fmt.Errorf("read the DLQ: %w", err)
		}
		if len(res.Messages) == 0 {
			empty++
			continue
		}
		for _, m := range res.Messages {
			if seen[aws.ToString(m.MessageId)] {
				continue
			}
			seen[aws.ToString(m.MessageId)] = true
			d := dlqMessage{Body: aws.ToString(m.Body)}
			d.Job, _ = herald.DecodeJob([]byte(d.Body))
			out = append(out, d)
		}
	}
	return out, nil
}

// FullConfig is `make chaos`: 2,000 events × 4 webhooks, with every fault.
func FullConfig() Config {
	return Config{
		Events: 2000, Webhooks: 4, IngestBatch: 10, IngestProcs: 2,
		AWS:            AWSFaults{Throttle: 0.05, Internal: 0.03, Ambiguous: 0.01, Slow: 0.05, SlowMax: time.Second},
		Receivers:      ReceiverFaults{Fail: 0.10, Timeout: 0.02, Reset: 0.05, FailFirst: 1},
		KillRate:       0.1,
		IngestKillRate: 0.1,
		EmulatorKills:  0.2,
		KillFor:        20 * time.Second,
		WaitRetries:    true,
		Drain:          15 * time.Minute,
		Reingest:       0.05,
		Seed:           1,
	}
}

// ShortConfig is the form `make test` runs: 200 events × 3 webhooks, the
// same faults, without waiting for the retries.
func ShortConfig() Config {
	c := FullConfig()
	c.Events, c.Webhooks = 200, 3
	c.KillFor = 5 * time.Second
	c.KillRate, c.IngestKillRate = 0.2, 0.2
	c.WaitRetries = false
	c.Drain = 4 * time.Minute
	c.Reingest = 0.1
	return c
}
