package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/heraldhq/herald/shared/ingest"
	"github.com/heraldhq/herald/tools/harness"
)

// Hard caps, so that no flag turns a run into an unbounded one.
const (
	maxRate     = 200 // events per second
	maxWebhooks = 50
	maxDuration = 5 * time.Minute
	maxDrain    = 5 * time.Minute
	maxInflight = 512 // ingest invocations waiting or running at once
	ingestTries = 3   // the CMS sends an event again when an invocation fails
)

// eventsConfig is one end-to-end run: rate events per second for duration,
// each matching every one of webhooks, then up to drain to deliver them.
type eventsConfig struct {
	Rate     int           `json:"rate_events_per_s"`
	Webhooks int           `json:"webhooks"`
	Duration time.Duration `json:"-"`
	Drain    time.Duration `json:"-"`
	// In seconds, for the result file.
	DurationS float64 `json:"duration_s"`
	DrainS    float64 `json:"drain_limit_s"`
}

func (c *eventsConfig) check() error {
	c.DurationS, c.DrainS = c.Duration.Seconds(), c.Drain.Seconds()
	return cmp.Or(within("rate", c.Rate, 1, maxRate), within("webhooks", c.Webhooks, 1, maxWebhooks),
		within("duration", c.Duration, time.Second, maxDuration), within("drain", c.Drain, time.Second, maxDrain))
}

// within says what is wrong with flag's value v unless lo ≤ v ≤ hi.
func within[T int | time.Duration](flag string, v, lo, hi T) error {
	if v < lo || v > hi {
		return fmt.Errorf("-%s %v: want %v to %v", flag, v, lo, hi)
	}
	return nil
}

// EventsResult is the JSON result of an end-to-end run.
type EventsResult struct {
	runInfo
	Config  eventsConfig `json:"config"`
	Sending sending      `json:"sending"`
	Latency struct {
		IngestAck Latency `json:"ingest_ack"`
		EndToEnd  Latency `json:"end_to_end_first_byte"`
	} `json:"latency"`
	Throughput throughput     `json:"throughput"`
	Ledger     harness.Ledger `json:"ledger"`
	DrainS     float64        `json:"drain_s"`
	// CPU is the CPU time per delivered call, from the first send to the
	// drain; absent for the make dev stack.
	CPU     *cpuUse `json:"cpu_per_delivery,omitempty"`
	Verdict string  `json:"verdict"`
}

// cpuUse splits a run's CPU time per delivery between Herald's functions
// (the bootstraps: Herald's code as Lambda runs it), the emulators that run
// them (the local stand-in for Lambda's own machinery, which a deployment
// does not pay in its functions' time), and this process, which runs the
// gateway and the pollers (Herald's local stand-ins for API Gateway and the
// event source mappings) beside the load generator and the receivers (not
// Herald's): its figure bounds the gateway's and pollers' share from above.
// moto's CPU is in none of them.
type cpuUse struct {
	FunctionsMS float64 `json:"functions_ms"`
	EmulatorsMS float64 `json:"emulators_ms"`
	HarnessMS   float64 `json:"harness_process_ms"`
	// HeraldMaxMS is all of the above: Herald's own processes, with the
	// harness's share counted whole.
	HeraldMaxMS float64 `json:"herald_processes_at_most_ms"`
}

// measureCPU starts measuring; the function it returns is the CPU per
// delivery since, nil for the make dev stack, whose functions are not this
// process's children.
func measureCPU(t *target) func(deliveries int) *cpuUse {
	if t.stack == nil {
		return func(int) *cpuUse { return nil }
	}
	fn0, emu0 := t.stack.FunctionsCPU()
	self0 := selfCPU()
	return func(deliveries int) *cpuUse {
		if deliveries == 0 {
			return nil
		}
		per := func(d time.Duration) float64 {
			return round2(float64(d.Microseconds()) / 1000 / float64(deliveries))
		}
		fn, emu := t.stack.FunctionsCPU()
		u := &cpuUse{FunctionsMS: per(fn - fn0), EmulatorsMS: per(emu - emu0), HarnessMS: per(selfCPU() - self0)}
		u.HeraldMaxMS = round2(u.FunctionsMS + u.EmulatorsMS + u.HarnessMS)
		return u
	}
}

// selfCPU is this process's user and system time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type sending struct {
	Events       int     `json:"events_sent"`
	Accepted     int     `json:"events_accepted"`
	Failed       int     `json:"events_failed"`
	Retried      int     `json:"invocations_retried"`
	SendRate     float64 `json:"achieved_events_per_s"`
	MaxStartLagS float64 `json:"max_start_lag_s"` // how far sends fell behind the schedule
}

type throughput struct {
	OfferedPerS   float64 `json:"offered_deliveries_per_s"`
	SustainedPerS float64 `json:"sustained_deliveries_per_s"`
	OverallPerS   float64 `json:"overall_deliveries_per_s"`
	SustainedNote string  `json:"sustained_window"`
	EventsPerSec  []int   `json:"events_sent_per_second"`
	DeliveriesSec []int   `json:"deliveries_per_second"`
}

// acks tallies ingest's replies batch by batch, as harness.CMS.SendAll
// hands them over; safe for concurrent use.
type acks struct {
	mu              sync.Mutex
	want            []string // the webhooks every event matches
	start           time.Time
	log             func(string, ...any)
	sent            []harness.Sent  // the accepted events
	lat             []time.Duration // each invocation's, from its start to its reply
	failed, retried int
}

func (a *acks) done(batch []harness.Event, results []ingest.Result, tries int, took time.Duration, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.retried += max(0, tries-1)
	if err != nil {
		a.failed += len(batch)
		a.log("events from %d: %v", batch[0].Seq, err)
		return
	}
	a.lat = append(a.lat, took)
	for i, ev := range batch {
		a.sent = append(a.sent, harness.Sent{Event: ev, Result: results[i], Want: a.want})
	}
	if len(a.sent)/1000 > (len(a.sent)-len(batch))/1000 {
		a.log("%d events accepted after %v", len(a.sent), time.Since(a.start).Round(time.Second))
	}
}

// settle waits until the table has recorded what the receiver got, then
// balances the run's ledger; it returns the receiver's log too. Calls may
// still wait for their attempt: the drain is bounded.
func (t *target) settle(ctx context.Context, p *project, events []harness.Sent) (harness.Ledger, []harness.Request, error) {
	calls, err := harness.Settle(ctx, t.store, p.ID, p.rcv, 10*time.Second)
	if err != nil {
		return harness.Ledger{}, nil, err
	}
	got := p.rcv.Log()
	return harness.Balance(harness.Run{Events: events, Calls: calls, Requests: got, Paths: p.Paths, Waiting: true}), got, nil
}

// runEvents runs one end-to-end load run against t and writes its result
// and plots to outDir.
func runEvents(ctx context.Context, t *target, cfg eventsConfig, outDir string, log func(string, ...any)) (*EventsResult, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	res := &EventsResult{runInfo: newRunInfo(t), Config: cfg}
	p, err := t.seed(ctx, "load", cfg.Webhooks)
	if err != nil {
		return nil, err
	}
	defer p.rcv.Close()
	log("project %s: %d webhooks → %s; sending %d events/s for %v", p.ID, cfg.Webhooks, p.rcv.URL, cfg.Rate, cfg.Duration)

	total := cfg.Rate * int(cfg.Duration/time.Second)
	interval := time.Second / time.Duration(cfg.Rate)
	cpu := measureCPU(t)
	cms := &harness.CMS{Invoke: t.ingest, Tries: ingestTries}
	acked := &acks{want: p.Hooks, start: time.Now(), log: log}
	sem := make(chan struct{}, maxInflight)
	var wg sync.WaitGroup
	var sentTimes []time.Time
	var maxLag time.Duration
	for i := range total {
		due := acked.start.Add(time.Duration(i) * interval)
		select {
		case <-time.After(time.Until(due)):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		sem <- struct{}{}
		maxLag = max(maxLag, time.Since(due))
		at := time.Now()
		sentTimes = append(sentTimes, at)
		wg.Go(func() {
			defer func() { <-sem }()
			ev, err := p.events.Make(i, "update", "1423", at)
			var results []ingest.Result
			tries := 0
			if err == nil {
				results, tries, err = cms.Send(ctx, []harness.Event{ev})
			}
			acked.done([]harness.Event{ev}, results, tries, time.Since(at), err)
		})
	}
	wg.Wait()
	start := acked.start
	res.Sending = sending{Events: total, Accepted: len(acked.sent), Failed: acked.failed, Retried: acked.retried,
		SendRate: round2(float64(total) / sentTimes[total-1].Sub(start).Seconds()), MaxStartLagS: round2(maxLag.Seconds())}
	expected := len(acked.sent) * cfg.Webhooks
	log("sent %d events in %v (%d accepted); draining %d calls (at most %v)", total, time.Since(start).Round(time.Millisecond), len(acked.sent), expected, cfg.Drain)

	res.DrainS = drain(ctx, p.rcv, expected, cfg.Drain, log)
	res.CPU = cpu(p.rcv.Calls())
	var got []harness.Request
	if res.Ledger, got, err = t.settle(ctx, p, acked.sent); err != nil {
		return nil, err
	}
	if res.Sending.Failed > 0 {
		res.Ledger.Balanced = false
		res.Ledger.Problems = append(res.Ledger.Problems, fmt.Sprintf("%d events were not accepted after %d tries", res.Sending.Failed, ingestTries))
	}

	// End-to-end latency: each call's first request, from the event's send.
	var e2e []time.Duration
	var deliveredAt []time.Time
	seen := map[string]bool{}
	for _, d := range got {
		if seen[d.CallID] {
			continue
		}
		seen[d.CallID] = true
		if !d.Sent.IsZero() {
			e2e = append(e2e, d.FirstByte.Sub(d.Sent))
		}
		deliveredAt = append(deliveredAt, d.FirstByte)
	}
	res.Latency.IngestAck = summarize(acked.lat)
	res.Latency.EndToEnd = summarize(e2e)
	res.Throughput = measureThroughput(start, cfg, sentTimes, deliveredAt)
	res.Verdict = "OK"
	if !res.Ledger.Balanced {
		res.Verdict = "VOID"
	}
	return res, writeEventsOutputs(outDir, res, acked.lat, e2e)
}

// measureThroughput: offered is rate × webhooks; sustained counts the
// deliveries that arrived within the send window after a warm-up (a fifth
// of it, at most 5 s), so that it says what the stack keeps up with while
// events keep coming; overall runs from the first send to the last
// delivery.
func measureThroughput(start time.Time, cfg eventsConfig, sentTimes, deliveredAt []time.Time) throughput {
	tp := throughput{OfferedPerS: float64(cfg.Rate * cfg.Webhooks)}
	warm := min(5*time.Second, cfg.Duration/5)
	from, to := start.Add(warm), start.Add(cfg.Duration)
	n := 0
	last := start
	for _, t := range deliveredAt {
		if !t.Before(from) && t.Before(to) {
			n++
		}
		if t.After(last) {
			last = t
		}
	}
	tp.SustainedPerS = round2(float64(n) / to.Sub(from).Seconds())
	tp.SustainedNote = fmt.Sprintf("deliveries between %.0f s and %.0f s after the first send", warm.Seconds(), cfg.Duration.Seconds())
	if span := last.Sub(start).Seconds(); span > 0 {
		tp.OverallPerS = round2(float64(len(deliveredAt)) / span)
	}
	secs := int(last.Sub(start)/time.Second) + 1
	tp.EventsPerSec = perSecond(start, sentTimes, secs)
	tp.DeliveriesSec = perSecond(start, deliveredAt, secs)
	return tp
}

// drain waits until the receiver has expected calls, at most limit, saying
// how it goes every 30 s, and returns the seconds it waited.
func drain(ctx context.Context, rcv *harness.Receiver, expected int, limit time.Duration, log func(string, ...any)) float64 {
	start, next := time.Now(), time.Now().Add(30*time.Second)
	for n := rcv.Calls(); n < expected && time.Since(start) < limit && ctx.Err() == nil; n = rcv.Calls() {
		if time.Now().After(next) {
			log("drain: %d of %d calls received after %v", n, expected, time.Since(start).Round(time.Second))
			next = next.Add(30 * time.Second)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return round2(time.Since(start).Seconds())
}

// writeEventsOutputs writes the result and its plots; ack and e2e are
// sorted (summarize sorted them).
func writeEventsOutputs(dir string, res *EventsResult, ack, e2e []time.Duration) error {
	c := res.Config
	note := fmt.Sprintf("%d events/s × %d webhooks for %.0f s on the local stack (moto); %s", c.Rate, c.Webhooks, c.DurationS, res.Machine.short())
	lat := chart{
		title: "Latency distribution (CDF)", xLabel: "milliseconds (log scale)", yLabel: "fraction of events / calls", logX: true,
		notes: []string{note},
		series: []series{
			{name: "ingest acknowledge, " + res.Latency.IngestAck.String(), points: cdf(ack, 400)},
			{name: "end to end to the receiver's first byte, " + res.Latency.EndToEnd.String(), points: cdf(e2e, 400)},
		},
	}
	tp := chart{
		title: "Throughput over time", xLabel: "seconds since the first event", yLabel: "per second",
		notes: []string{note, fmt.Sprintf("offered %.0f deliveries/s; sustained %.1f/s (%s)", res.Throughput.OfferedPerS, res.Throughput.SustainedPerS, res.Throughput.SustainedNote)},
		series: []series{
			{name: "events sent / s", points: steps(res.Throughput.EventsPerSec), step: true},
			{name: "deliveries (first byte) / s", points: steps(res.Throughput.DeliveriesSec), step: true},
		},
	}
	return writeOutputs(dir, "load-result.json", res, map[string][]byte{"load-latency.svg": lat.svg(), "load-throughput.svg": tp.svg()})
}

// writeOutputs writes a run's result as JSON, and its plots, into dir.
func writeOutputs(dir, resultName string, res any, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	raw, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the result: %w", err)
	}
	files[resultName] = append(raw, '\n')
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
