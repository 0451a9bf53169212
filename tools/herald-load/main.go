// Command herald-load drives Herald's local stack end to end and measures it.
//
//	herald-load events [-rate 5] [-webhooks 5] [-duration 60s] [-drain 90s] [-out DIR] [-dev]
//	herald-load api [-clients 100] [-duration 30s] [-burst 5000] [-out DIR] [-dev]
//
// events sends record updates to the ingest function at a fixed rate, each
// matching every one of the run's webhooks, to a receiver on 127.0.0.1, then
// waits (bounded) for the deliveries, balances the ledger (tools/harness:
// events × matches = delivered + failed + still pending, read from the
// table, and every call against what the receiver got: signed, at its
// webhook's path, sent once) and writes load-result.json with two SVG plots.
// An unbalanced ledger prints VOID and exits non-zero.
//
// api runs concurrent clients against the API through the local gateway and
// then a burst of events through ingest, and checks that no write was lost
// or doubled and every event's calls exist once (api-result.json).
//
// Both start their own local stack on free ports, or drive the running
// `make dev` stack with -dev. `make load` and `make load-api` run them.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/heraldhq/herald/tools/command"
	"github.com/heraldhq/herald/tools/localstack"
)

func main() { command.Main("herald-load", run) }

var run = command.Subcommands("herald-load", map[string]command.Run{"events": eventsCommand, "api": apiCommand})

// loadFlags are the flags both commands take: where the results go, and
// which stack to drive.
type loadFlags struct {
	*flag.FlagSet
	out                        *string
	dev, deliver               *bool
	ingest, delivery, apiPools *int
}

func newFlags(name string, stderr io.Writer, apiInstances int) loadFlags {
	fs := flag.NewFlagSet("herald-load "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return loadFlags{FlagSet: fs, deliver: new(true),
		out:      fs.String("out", ".herald/load", "directory for the result file (load-result.json or api-result.json) and its plots"),
		dev:      fs.Bool("dev", false, "drive the running `make dev` stack (.herald/dev.env) instead of starting one"),
		ingest:   fs.Int("ingest-instances", 2, "emulator instances of the ingest function (a stack started here)"),
		delivery: fs.Int("delivery-instances", 2, "emulator instances of the delivery function, each with its queue poller"),
		apiPools: fs.Int("api-instances", apiInstances, "emulator instances of the API function"),
	}
}

// result is a run's result: it prints itself for people and returns its
// verdict.
type result interface {
	print(w io.Writer) (verdict string)
}

// drive parses the flags and checks them with check and the stack flags
// (every mistake is a usage error, its reason on stderr), starts the stack,
// runs one load against it and stops the stack; a verdict other than OK
// fails the command.
func (f loadFlags) drive(ctx context.Context, args []string, stdout, stderr io.Writer, check func() error, run func(t *target, log func(string, ...any)) (result, error)) error {
	if err := f.Parse(args); err != nil || f.NArg() > 0 {
		return command.ErrUsage
	}
	if err := cmp.Or(check(), within("ingest-instances", *f.ingest, 1, 8), within("delivery-instances", *f.delivery, 1, 8), within("api-instances", *f.apiPools, 1, 8)); err != nil {
		fmt.Fprintln(stderr, "herald-load:", err)
		return command.ErrUsage
	}
	log := func(format string, args ...any) {
		fmt.Fprintf(stderr, "%s herald-load: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	log("starting the stack…")
	t, err := startTarget(ctx, stackOptions{dev: *f.dev, noDelivery: !*f.deliver, poolSizes: map[string]int{
		localstack.APIFunction: *f.apiPools, localstack.IngestFunction: *f.ingest, localstack.DeliveryFunction: *f.delivery,
	}})
	if err != nil {
		return err
	}
	defer t.stop()
	res, err := run(t, log)
	if err != nil {
		return err
	}
	verdict := res.print(stdout)
	fmt.Fprintf(stdout, "%s  (results in %s)\n", verdict, *f.out)
	if verdict != "OK" {
		return command.ErrFailed
	}
	return nil
}

func eventsCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("events", stderr, 2)
	var cfg eventsConfig
	f.IntVar(&cfg.Rate, "rate", 5, fmt.Sprintf("events per second (at most %d)", maxRate))
	f.IntVar(&cfg.Webhooks, "webhooks", 5, fmt.Sprintf("webhooks that every event matches (at most %d)", maxWebhooks))
	f.DurationVar(&cfg.Duration, "duration", time.Minute, fmt.Sprintf("how long to send (at most %v)", maxDuration))
	f.DurationVar(&cfg.Drain, "drain", 90*time.Second, fmt.Sprintf("how long to wait for deliveries after the last send (at most %v)", maxDrain))
	return f.drive(ctx, args, stdout, stderr, cfg.check, func(t *target, log func(string, ...any)) (result, error) {
		return runEvents(ctx, t, cfg, *f.out, log)
	})
}

func (r *EventsResult) print(w io.Writer) string {
	fmt.Fprintf(w, "events: %d sent (%.2f/s), %d accepted, %d failed\n", r.Sending.Events, r.Sending.SendRate, r.Sending.Accepted, r.Sending.Failed)
	fmt.Fprintf(w, "ingest acknowledge:      %v\nend to end (first byte): %v\n", r.Latency.IngestAck, r.Latency.EndToEnd)
	fmt.Fprintf(w, "deliveries/s: offered %.1f, sustained %.2f (%s), overall %.2f\n", r.Throughput.OfferedPerS, r.Throughput.SustainedPerS, r.Throughput.SustainedNote, r.Throughput.OverallPerS)
	if c := r.CPU; c != nil {
		fmt.Fprintf(w, "CPU per delivery: functions %.2f ms, their emulators %.2f ms, this process (gateway and pollers, with the load generator and receivers) %.2f ms; all %.2f ms (moto apart)\n",
			c.FunctionsMS, c.EmulatorsMS, c.HarnessMS, c.HeraldMaxMS)
	}
	l := r.Ledger
	fmt.Fprintf(w, "ledger: %d events × %d matches = %d = %d delivered + %d failed + %d pending (table %d, receiver %d calls, %d duplicate requests)\n",
		l.Events, r.Config.Webhooks, l.Expected, l.Delivered, l.Failed, l.Waiting(), l.CallsInTable, l.ReceivedCalls, l.Duplicates)
	for _, p := range l.Problems {
		fmt.Fprintln(w, "  problem:", p)
	}
	return r.Verdict
}

func apiCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// More API instances than the events run: the API is what is loaded.
	f := newFlags("api", stderr, 4)
	var cfg apiConfig
	f.IntVar(&cfg.Clients, "clients", 100, fmt.Sprintf("concurrent API clients (at most %d)", maxClients))
	f.DurationVar(&cfg.Duration, "duration", 30*time.Second, fmt.Sprintf("how long the clients run (at most %v)", maxAPIDuration))
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed of the clients' choice of operations")
	f.IntVar(&cfg.Burst, "burst", 5000, fmt.Sprintf("events in the ingest burst after the clients (0: none; at most %d)", maxBurst))
	f.IntVar(&cfg.BurstWebhooks, "burst-webhooks", 2, "webhooks that every burst event matches")
	f.IntVar(&cfg.BurstBatch, "burst-batch", 25, "events per ingest invocation in the burst")
	f.IntVar(&cfg.BurstWorkers, "burst-workers", 4, "ingest invocations at a time in the burst")
	f.DurationVar(&cfg.Drain, "drain", 4*time.Minute, "how long to wait for the burst's deliveries (with -burst-deliver)")
	f.deliver = f.Bool("burst-deliver", false, "run the delivery function too; by default the stack has none, and every call's job must be in the queue")
	return f.drive(ctx, args, stdout, stderr, cfg.check, func(t *target, log func(string, ...any)) (result, error) {
		return runAPI(ctx, t, cfg, *f.out, log)
	})
}

func (r *APIResult) print(w io.Writer) string {
	fmt.Fprintf(w, "API: %d clients × %.0f s: %d requests (%.1f/s), %d 5xx, %d without answer\n", r.Config.Clients, r.Config.DurationS, r.Requests, r.PerS, r.Errors5xx, r.Transport)
	fmt.Fprintf(w, "%-12s %7s %9s %9s %9s %9s  %s\n", "operation", "n", "p50 ms", "p90 ms", "p99 ms", "max ms", "statuses")
	for _, op := range append(slices.Sorted(maps.Keys(r.ByOp)), "all") {
		s, ok := r.ByOp[op]
		if !ok {
			s = opStats{Latency: r.Overall, Statuses: r.Statuses}
		}
		fmt.Fprintf(w, "%-12s %7d %9.1f %9.1f %9.1f %9.1f  %v\n", op, s.Count, s.P50, s.P90, s.P99, s.Max, s.Statuses)
	}
	wl := r.Writes
	fmt.Fprintf(w, "writes: %d creates, %d deletes, %d updates + %d on the shared webhook (%d conflicts) acknowledged; table: %d webhooks (expected %d), %d name claims; lost creates %d, lost deletes %d, unexpected %d, version mismatches %d\n",
		wl.CreatesAcked, wl.DeletesAcked, wl.UpdatesAcked, wl.HotUpdatesAcked, wl.HotConflicts, wl.WebhooksInTable, wl.ExpectedWebhooks, wl.NameClaimsInTable, wl.LostCreates, wl.LostDeletes, wl.UnexpectedWebhooks, wl.VersionMismatches)
	if b := r.Burst; b != nil {
		l := b.Ledger
		fmt.Fprintf(w, "burst: %d events, %d accepted in %.1f s (%.1f/s, batch ack p50 %.0f ms p99 %.0f ms); %d × %d = %d calls = %d delivered + %d failed + %d pending (table %d, %d duplicate requests; drained in %.1f s)\n",
			b.Events, b.Accepted, b.Seconds, b.EventsPerS, b.BatchAck.P50, b.BatchAck.P99, l.Events, r.Config.BurstWebhooks, l.Expected, l.Delivered, l.Failed, l.Waiting(), l.CallsInTable, l.Duplicates, b.DrainS)
		if b.QueuedJobs != nil {
			fmt.Fprintf(w, "burst: no delivery function ran; the burst queued %d jobs, one per call\n", *b.QueuedJobs)
		}
	}
	for _, p := range r.Problems {
		fmt.Fprintln(w, "  problem:", p)
	}
	return r.Verdict
}
