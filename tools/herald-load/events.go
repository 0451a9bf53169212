package main

import (
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
	switch {
	case c.Rate < 1 || c.Rate > maxRate:
		return fmt.Errorf("-rate %d: want 1 to %d events/s", c.Rate, maxRate)
	case c.Webhooks < 1 || c.Webhooks > maxWebhooks:
		return fmt.Errorf("-webhooks %d: want 1 to %d", c.Webhooks, maxWebhooks)
	case c.Duration < time.Second || c.Duration > maxDuration:
		return fmt.Errorf("-duration %v: want 1s to %v", c.Duration, maxDuration)
	case c.Drain < time.Second || c.Drain > maxDrain:
		return fmt.Errorf("-drain %v: want 1s to %v", c.Drain, maxDrain)
	}
	c.DurationS, c.DrainS = c.Duration.Seconds(), c.Drain.Seconds()
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

// cpuMark is where a run's CPU accounting starts.
type cpuMark struct{ functions, emulators, self time.Duration }

func markCPU(t *target) cpuMark {
	m := cpuMark{self: selfCPU()}
	if t.functionsCPU != nil {
		m.functions, m.emulators = t.functionsCPU()
	}
	return m
}

// since is the CPU per delivery from the mark to now.
func (m cpuMark) since(t *target, deliveries int) *cpuUse {
	if t.functionsCPU == nil || deliveries == 0 {
		return nil
	}
	per := func(d time.Duration) float64 {
		return round2(float64(d.Microseconds()) / 1000 / float64(deliveries))
	}
	fn, emu := t.functionsCPU()
	u := &cpuUse{FunctionsMS: per(fn - m.functions), EmulatorsMS: per(emu - m.emulators), HarnessMS: per(selfCPU() - m.self)}
	u.HeraldMaxMS = round2(u.FunctionsMS + u.EmulatorsMS + u.HarnessMS)
	return u
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

// sent is what the sender noted about one event.
type sent struct {
	seq     int
	at      time.Time // the first invocation started
	ackedAt time.Time
	event   harness.Sent
	tries   int
	err     error
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
	rcv := p.rcv
	cms := &harness.CMS{Invoke: t.ingest, Tries: ingestTries}
	log("project %s: %d webhooks → %s; sending %d events/s for %v", p.ID, cfg.Webhooks, rcv.URL, cfg.Rate, cfg.Duration)

	total := cfg.Rate * int(cfg.Duration/time.Second)
	if total == 0 {
		total = cfg.Rate
	}
	interval := time.Second / time.Duration(cfg.Rate)
	sents := make([]*sent, total)
	cpu := markCPU(t)
	sem := make(chan struct{}, maxInflight)
	var wg sync.WaitGroup
	start := time.Now()
	var maxLag time.Duration
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		sem <- struct{}{}
		maxLag = max(maxLag, time.Since(due))
		s := &sent{seq: i, at: time.Now()}
		sents[i] = s
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ev, err := p.events.Make(s.seq, "update", "1423", s.at)
			var results []ingest.Result
			if err == nil {
				results, s.tries, err = cms.Send(ctx, []harness.Event{ev})
			}
			s.ackedAt, s.err, s.event = time.Now(), err, harness.Sent{Event: ev, Want: p.Hooks}
			if err == nil {
				s.event.Result = results[0]
			}
		}()
	}
	wg.Wait()
	sendEnd := time.Now()

	var acked []harness.Sent
	var ackLat []time.Duration
	sentTimes := make([]time.Time, 0, total)
	for _, s := range sents {
		sentTimes = append(sentTimes, s.at)
		res.Sending.Events++
		if s.tries > 1 {
			res.Sending.Retried += s.tries - 1
		}
		if s.err != nil {
			res.Sending.Failed++
			log("event %d: %v", s.seq, s.err)
			continue
		}
		res.Sending.Accepted++
		acked = append(acked, s.event)
		ackLat = append(ackLat, s.ackedAt.Sub(s.at))
	}
	res.Sending.SendRate = round2(float64(res.Sending.Events) / sentTimes[len(sentTimes)-1].Sub(start).Seconds())
	res.Sending.MaxStartLagS = round2(maxLag.Seconds())
	expected := len(acked) * cfg.Webhooks
	log("sent %d events in %v (%d accepted); draining %d calls (at most %v)", total, sendEnd.Sub(start).Round(time.Millisecond), len(acked), expected, cfg.Drain)

	res.DrainS = drain(ctx, rcv, expected, cfg.Drain, log)
	res.CPU = cpu.since(t, rcv.Calls())

	var got []harness.Request
	if res.Ledger, got, err = t.settle(ctx, p, acked); err != nil {
		return nil, err
	}
	if res.Sending.Failed > 0 {
		res.Ledger.Balanced = false
		res.Ledger.Problems = append(res.Ledger.Problems, fmt.Sprintf("%d events were not accepted after %d tries", res.Sending.Failed, ingestTries))
	}

	// End-to-end latency: each call's first request, from the event's send.
	firsts := firstDeliveries(got)
	var e2e []time.Duration
	var deliveredAt []time.Time
	for _, d := range firsts {
		if !d.Sent.IsZero() {
			e2e = append(e2e, d.FirstByte.Sub(d.Sent))
		}
		deliveredAt = append(deliveredAt, d.FirstByte)
	}
	res.Latency.IngestAck = summarize(ackLat)
	res.Latency.EndToEnd = summarize(e2e)
	res.Throughput = measureThroughput(start, cfg, sentTimes, deliveredAt)

	res.Verdict = "OK"
	if !res.Ledger.Balanced {
		res.Verdict = "VOID"
	}
	if err := writeEventsOutputs(outDir, res, ackLat, e2e); err != nil {
		return res, err
	}
	return res, nil
}

// firstDeliveries keeps each call's first request, in arrival order.
func firstDeliveries(got []harness.Request) []harness.Request {
	seen := map[string]bool{}
	var out []harness.Request
	for _, d := range got {
		if !seen[d.CallID] {
			seen[d.CallID] = true
			out = append(out, d)
		}
	}
	return out
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
	waitUntil(ctx, limit, func() bool {
		n := rcv.Calls()
		if time.Now().After(next) {
			log("drain: %d of %d calls received after %v", n, expected, time.Since(start).Round(time.Second))
			next = next.Add(30 * time.Second)
		}
		return n >= expected
	})
	return round2(time.Since(start).Seconds())
}

// waitUntil polls cond every 100 ms until it holds, within limit.
func waitUntil(ctx context.Context, limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
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
			{name: "ingest acknowledge, " + pcts(res.Latency.IngestAck), points: cdf(ack, 400)},
			{name: "end to end to the receiver's first byte, " + pcts(res.Latency.EndToEnd), points: cdf(e2e, 400)},
		},
	}
	evs, dels := buckets(res.Throughput.EventsPerSec), buckets(res.Throughput.DeliveriesSec)
	tp := chart{
		title: "Throughput over time", xLabel: "seconds since the first event", yLabel: "per second",
		notes: []string{note, fmt.Sprintf("offered %.0f deliveries/s; sustained %.1f/s (%s)", res.Throughput.OfferedPerS, res.Throughput.SustainedPerS, res.Throughput.SustainedNote)},
		series: []series{
			{name: "events sent / s", points: evs, step: true},
			{name: "deliveries (first byte) / s", points: dels, step: true},
		},
	}
	return writeOutputs(dir, "load-result.json", res, map[string][]byte{"load-latency.svg": lat.svg(), "load-throughput.svg": tp.svg()})
}

// writeOutputs writes a run's result as JSON and its plots into dir.
func writeOutputs(dir, resultName string, res any, plots map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	raw, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the result: %w", err)
	}
	files := map[string][]byte{resultName: append(raw, '\n')}
	for name, b := range plots {
		files[name] = b
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// buckets are per-second counts as steps: bucket i spans [i, i+1).
func buckets(counts []int) []point {
	var pts []point
	for i, n := range counts {
		pts = append(pts, point{float64(i), float64(n)})
	}
	if len(counts) > 0 {
		pts = append(pts, point{float64(len(counts)), float64(counts[len(counts)-1])})
	}
	return pts
}

func pcts(l Latency) string {
	return fmt.Sprintf("p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms (n=%d)", l.P50, l.P90, l.P99, l.Max, l.Count)
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
