package chaos

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/ingest"
	"github.com/heraldhq/herald/tools/harness"
	"github.com/heraldhq/herald/tools/localstack"
)

// Config is one chaos run.
type Config struct {
	Events   int // events ingested
	Webhooks int // 1 to 4; each has its own receiver and triggers

	AWS       AWSFaults
	Receivers harness.Faults

	// KillRate is the share of delivery invocations killed under way;
	// IngestKillRate the same for ingest. EmulatorKills is the share of
	// kills that kill the emulator process (restarted by the pool) rather
	// than the function's runtime.
	KillRate       float64
	IngestKillRate float64
	EmulatorKills  float64
	// KillFor is how long kills go on after the last event was ingested.
	KillFor time.Duration

	// WaitRetries waits, after the queue is empty, for the automatic
	// retries already queued (2 and 6 minutes after a failure) to run.
	WaitRetries bool
	// Drain bounds the wait for the queue to empty.
	Drain time.Duration
	// Reingest is the share of events ingested a second time at the end,
	// which must create nothing (guarantee 2).
	Reingest float64

	HostBuild string // localstack.HostBuildDir() if ""
	Seed      uint64
	Logs      io.Writer    // the functions' output; discarded if nil
	Progress  *slog.Logger // what the run is doing; discarded if nil
}

const (
	project = "chaos" // the run's project id
	// The CMS's ingest: batches of ingestBatch events, ingestProcs
	// invocations at a time, each batch sent again until it is accepted,
	// maxIngestTries times at most.
	ingestBatch, ingestProcs, maxIngestTries = 10, 2, 30
	// visibilityTimeout (seconds) of both delivery queues for the run: how
	// soon a message of a killed batch comes back. Longer than
	// delivery.Lease (60 s), as the template's is, or the message would
	// find the lease of the killed attempt still held.
	visibilityTimeout = "65"
)

// Run brings up a local stack behind a fault proxy, ingests cfg.Events
// events while it kills invocations and the receiver misbehaves, waits for
// the queues to drain, and returns the result with its ledger. The error is
// for a run that could not be carried out; an unbalanced ledger is reported
// by Result.Ledger.Balanced.
func Run(ctx context.Context, cfg Config) (*Result, error) {
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
	rcv, err := harness.StartReceiver(harness.ReceiverOptions{Faults: cfg.Receivers, Seed: cfg.Seed + 10})
	if err != nil {
		return nil, err
	}
	defer rcv.Close()

	stack, err := localstack.Start(ctx, localstack.Options{
		MotoURL:   moto.URL,
		HostBuild: cfg.HostBuild,
		StackName: "herald-chaos",
		Functions: []string{localstack.IngestFunction, localstack.DeliveryFunction},
		PoolSizes: map[string]int{localstack.IngestFunction: 2, localstack.DeliveryFunction: 3},
		Overrides: map[string]map[string]string{"Parameters": {
			"ALLOW_PRIVATE_TARGETS":     "true",
			"AWS_ENDPOINT_URL_DYNAMODB": proxy.URL,
			"AWS_ENDPOINT_URL_SQS":      proxy.URL,
		}},
		QueueAttributes: map[string]map[string]string{"DeliveryQueue": {"VisibilityTimeout": visibilityTimeout}, "FirstAttemptQueue": {"VisibilityTimeout": visibilityTimeout}},
		Logs:            cfg.Logs,
		// The poller's and the emulators' own notes, beside the functions'.
		Logger: slog.New(slog.NewJSONHandler(cfg.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		return nil, err
	}
	defer stack.Stop()
	store, err := stack.Store()
	if err != nil {
		return nil, err
	}
	hooks, paths, err := harness.Seed(ctx, store, project, "", "hook", rcv, hookTriggers[:cfg.Webhooks]...)
	if err != nil {
		return nil, err
	}
	log.Info("stack up", "moto", moto.URL, "proxy", proxy.URL, "webhooks", len(hooks), "seconds", time.Since(started).Seconds())

	kills := &killLog{calls: map[string]int{}, emulatorShare: cfg.EmulatorKills,
		rng: rand.New(rand.NewPCG(cfg.Seed, 3))} // #nosec G404 -- seeded so a chaos run can be repeated; not a secret
	killCtx, stopKills := context.WithCancel(ctx)
	defer stopKills()
	var killers sync.WaitGroup
	for fn, rate := range map[string]float64{localstack.DeliveryFunction: cfg.KillRate, localstack.IngestFunction: cfg.IngestKillRate} {
		if pool := stack.Pool(fn); rate > 0 && pool != nil {
			killers.Go(func() { kills.run(killCtx, pool, rate) })
		}
	}

	evs, err := makeEvents(cfg.Events, cfg.Seed, hooks)
	if err != nil {
		return nil, err
	}
	cms := &harness.CMS{Invoke: stack.Pool(localstack.IngestFunction).Invoke, Tries: maxIngestTries, Pause: 100 * time.Millisecond}
	sent, err := ingestAll(ctx, cms, evs)
	if err != nil {
		return nil, err
	}
	ingested := time.Since(started)
	log.Info("ingested", "events", len(evs), "invocations", cms.Invocations.Load(), "failed_invocations", cms.Failures.Load(), "seconds", ingested.Seconds())

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
	again, err := ingestAll(ctx, cms, evs[:int(float64(len(evs))*cfg.Reingest)])
	if err != nil {
		return nil, err
	}

	// Retries still queued would otherwise go on sending while the ledger
	// reads the receiver's log and then the table, and a send between the
	// two reads shows as an attempt the receiver never answered.
	stack.StopPolling()

	dlq, err := readDLQs(ctx, stack.SQS(), queues["FirstAttemptDLQ"].URL, queues["DeliveryDLQ"].URL)
	if err != nil {
		return nil, err
	}
	requests := rcv.Log()
	calls, err := store.ScanCalls(ctx, project)
	if err != nil {
		return nil, err
	}
	run := harness.Run{Events: sent, Again: again, Calls: calls, Requests: requests, Paths: paths, DLQ: dlq,
		Killed: kills.killed, Faulted: proxy.Touched}
	if cfg.WaitRetries {
		run.RetriesBy = time.Now()
	}
	res := &Result{Config: cfg, Drained: drained, Ledger: harness.Balance(run),
		IngestInvocations: int(cms.Invocations.Load()), IngestFailures: int(cms.Failures.Load()),
		DeliveryKills: kills.delivery, IngestKills: kills.ingest, Faults: proxy.Counts(),
		IngestSeconds: ingested.Seconds(), TotalSeconds: time.Since(started).Seconds()}
	if !drained {
		res.Ledger.Balanced = false
		res.Ledger.Problems = append(res.Ledger.Problems, fmt.Sprintf("the delivery queues did not drain within %s", cfg.Drain))
	}
	return res, nil
}

// Result is a chaos run: what it injected and its ledger.
type Result struct {
	Config  Config
	Drained bool // the delivery queues emptied within Config.Drain
	Ledger  harness.Ledger

	DeliveryKills, IngestKills        int
	IngestInvocations, IngestFailures int
	Faults                            map[string]int // AWS faults by "<service>.<Op> <fault>"
	IngestSeconds, TotalSeconds       float64
}

// Print writes the result for people.
func (r *Result) Print(w io.Writer) {
	c, l := r.Config, &r.Ledger
	fmt.Fprintf(w, "chaos ledger: %d events x %d webhooks, seed %d\n", c.Events, c.Webhooks, c.Seed)
	fmt.Fprintf(w, "  faults: AWS throttle %.0f%% internal %.0f%% ambiguous %.0f%% slow %.0f%%; receivers 500 %.0f%% timeout %.0f%% reset %.0f%% (first %d requests of a call); kills %.0f%% of delivery and %.0f%% of ingest invocations\n",
		100*c.AWS.Throttle, 100*c.AWS.Internal, 100*c.AWS.Ambiguous, 100*c.AWS.Slow,
		100*c.Receivers.Fail, 100*c.Receivers.Timeout, 100*c.Receivers.Reset, c.Receivers.FailFirst, 100*c.KillRate, 100*c.IngestKillRate)
	fmt.Fprintf(w, "  injected: %d delivery kills, %d ingest kills, %d AWS faults %v\n", r.DeliveryKills, r.IngestKills, sum(r.Faults), summarize(r.Faults))
	fmt.Fprintf(w, "  ingest: %d invocations, %d failed and sent again; %d events ingested again\n", r.IngestInvocations, r.IngestFailures, l.Reingested)
	fmt.Fprintf(w, "  time: ingest %.0f s, total %.0f s; queues drained: %v\n", r.IngestSeconds, r.TotalSeconds, r.Drained)
	l.Print(w)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// summarize totals faults by kind.
func summarize(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		_, kind, _ := strings.Cut(k, " ")
		out[kind] += v
	}
	return out
}

func withDefaults(cfg Config) Config {
	if cfg.Webhooks < 1 || cfg.Webhooks > len(hookTriggers) {
		cfg.Webhooks = 3
	}
	cfg.Drain = cmp.Or(cfg.Drain, 10*time.Minute)
	cfg.Progress = cmp.Or(cfg.Progress, slog.New(slog.DiscardHandler))
	cfg.Logs = cmp.Or[io.Writer](cfg.Logs, io.Discard)
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

func wantsEvent(hook int, ev harness.Event) bool {
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

// makeEvents makes the run's events: each kind of change in turn, on
// records of two models, each wanting the webhooks (hooks[i] has
// hookTriggers[i]) wantsEvent says.
func makeEvents(n int, seed uint64, hooks []string) ([]harness.Sent, error) {
	factory, err := harness.NewEvents(project, fmt.Sprintf("chaos-%d", seed))
	if err != nil {
		return nil, err
	}
	types, models := []string{"create", "update", "publish", "delete"}, []string{"1423", "77"}
	out := make([]harness.Sent, n)
	at := time.Now()
	for i := range out {
		ev, err := factory.Make(i, types[i%len(types)], models[(i/len(types))%len(models)], at)
		if err != nil {
			return nil, err
		}
		out[i].Event = ev
		for h, id := range hooks {
			if wantsEvent(h, ev) {
				out[i].Want = append(out[i].Want, id)
			}
		}
	}
	return out, nil
}

// killLog draws the kills, and counts them and the calls whose jobs were
// in a killed batch.
type killLog struct {
	emulatorShare float64 // of the kills, those of the emulator process

	mu       sync.Mutex
	rng      *rand.Rand
	delivery int
	ingest   int
	calls    map[string]int
}

// run watches the pool's instances and kills each invocation it sees start
// with probability rate, at a random moment within its first half second
// (the invocations of this run take from tens of milliseconds to seconds).
// Until one kill has succeeded it kills every invocation from the third on,
// so that even a short run has one.
func (k *killLog) run(ctx context.Context, pool *localstack.Pool, rate float64) {
	delivery := pool.Function() == localstack.DeliveryFunction
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
			k.mu.Lock()
			kill := k.rng.Float64() < rate || (!killed.Load() && started >= 3)
			emulator := k.rng.Float64() < k.emulatorShare
			delay := time.Duration(k.rng.Int64N(int64(500 * time.Millisecond)))
			k.mu.Unlock()
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
	_ = json.Unmarshal(payload, &ev) // a batch it cannot read names no call
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

// ingestAll sends the events in batches, as the CMS does, each until it is
// accepted, and returns them with their results.
// The events are those of makeEvents, each at the index of its Seq.
func ingestAll(ctx context.Context, cms *harness.CMS, evs []harness.Sent) ([]harness.Sent, error) {
	out := slices.Clone(evs)
	events := make([]harness.Event, len(evs))
	for i, s := range evs {
		events[i] = s.Event
	}
	var failed error
	cms.SendAll(ctx, events, ingestBatch, ingestProcs, func(batch []harness.Event, results []ingest.Result, _ int, _ time.Duration, err error) {
		failed = cmp.Or(failed, err)
		for i, r := range results {
			out[batch[i].Seq].Result = r
		}
	})
	return out, cmp.Or(failed, ctx.Err())
}

// waitDrained waits until the delivery queues have no message visible or in
// flight (and, with retries, none delayed) on three polls in a row.
func waitDrained(ctx context.Context, client *sqs.Client, queueURLs []string, retries bool, limit time.Duration, log *slog.Logger) (bool, error) {
	deadline := time.Now().Add(limit)
	var last time.Time
	for quiet := 0; time.Now().Before(deadline); {
		var n localstack.QueueCounts
		for _, url := range queueURLs {
			c, err := localstack.CountMessages(ctx, client, url)
			if err != nil {
				return false, err
			}
			n = localstack.QueueCounts{Visible: n.Visible + c.Visible, InFlight: n.InFlight + c.InFlight, Delayed: n.Delayed + c.Delayed}
		}
		if time.Since(last) > 15*time.Second {
			log.Info("draining", "visible", n.Visible, "in_flight", n.InFlight, "delayed", n.Delayed)
			last = time.Now()
		}
		quiet++
		if n.Visible+n.InFlight > 0 || (retries && n.Delayed > 0) {
			quiet = 0
		}
		if quiet == 3 {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return false, nil
}

// readDLQs reads the jobs in dead-letter queues, each until two receives
// in a row find none; a message that is not a job stands as a job of no
// call, which the ledger reports.
func readDLQs(ctx context.Context, client *sqs.Client, queueURLs ...string) ([]herald.Job, error) {
	var out []herald.Job
	seen := map[string]bool{}
	for _, url := range queueURLs {
		for empty := 0; empty < 2; {
			res, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
				VisibilityTimeout: 300, WaitTimeSeconds: 1})
			if err != nil {
				return nil, fmt.Errorf("read the DLQ: %w", err)
			}
			if len(res.Messages) == 0 {
				empty++
			}
			for _, m := range res.Messages {
				if seen[aws.ToString(m.MessageId)] {
					continue
				}
				seen[aws.ToString(m.MessageId)] = true
				job, err := herald.DecodeJob([]byte(aws.ToString(m.Body)))
				if err != nil {
					job.CallID = "undecodable: " + aws.ToString(m.Body)
				}
				out = append(out, job)
			}
		}
	}
	return out, nil
}

// FullConfig is `make chaos`: 2,000 events × 4 webhooks, with every fault.
func FullConfig() Config {
	return Config{
		Events: 2000, Webhooks: 4,
		AWS:            AWSFaults{Throttle: 0.05, Internal: 0.03, Ambiguous: 0.01, Slow: 0.05, SlowMax: time.Second},
		Receivers:      harness.Faults{Fail: 0.10, Timeout: 0.02, Reset: 0.05, FailFirst: 1},
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
