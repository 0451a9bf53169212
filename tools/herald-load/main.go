// Command herald-load drives Herald's local stack end to end and measures it.
//
//	herald-load events [-rate 5] [-webhooks 5] [-duration 60s] [-drain 90s] [-out DIR] [-dev]
//	herald-load api [-clients 100] [-duration 30s] [-burst 5000] [-out DIR] [-dev]
//
// events sends record updates to the ingest function at a fixed rate, each
// matching every one of the run's webhooks, to a receiver on 127.0.0.1, then
// waits (bounded) for the deliveries, balances the ledger (events × matches =
// delivered + failed + still pending, read from the table) and writes
// load-result.json with two SVG plots. An unbalanced ledger prints VOID and
// exits non-zero.
//
// api runs concurrent clients against the API through the local gateway and
// then a burst of events through ingest, and checks that no write was lost
// or doubled and every event's calls exist once (api-result.json).
//
// Both start their own local stack on free ports, or drive the running
// `make dev` stack with -dev. `make load` and `make load-api` run them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(2)
	case errors.Is(err, errFailed):
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "herald-load:", err)
		os.Exit(1)
	}
}

var (
	errUsage  = errors.New("usage")
	errFailed = errors.New("the run failed its checks")
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: herald-load events [flags] | herald-load api [flags]   (-h for the flags)")
		return errUsage
	}
	switch args[0] {
	case "events":
		return eventsCommand(ctx, args[1:], stdout, stderr)
	case "api":
		return apiCommand(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "herald-load: unknown command %q; want events or api\n", args[0])
	return errUsage
}

// stackFlags are the flags both commands take to pick their stack.
type stackFlags struct {
	dev                        *bool
	ingest, delivery, apiPools *int
}

func addStackFlags(fs *flag.FlagSet) stackFlags {
	return stackFlags{
		dev:      fs.Bool("dev", false, "drive the running `make dev` stack (.herald/dev.env) instead of starting one"),
		ingest:   fs.Int("ingest-instances", 2, "emulator instances of the ingest function (a stack started here)"),
		delivery: fs.Int("delivery-instances", 2, "emulator instances of the delivery function, each with its queue poller"),
		apiPools: fs.Int("api-instances", 2, "emulator instances of the API function"),
	}
}

func (f stackFlags) options() (stackOptions, error) {
	for _, n := range []int{*f.ingest, *f.delivery, *f.apiPools} {
		if n < 1 || n > 8 {
			return stackOptions{}, fmt.Errorf("instances %d: want 1 to 8", n)
		}
	}
	return stackOptions{dev: *f.dev, poolSizes: map[string]int{
		"ApiFunction": *f.apiPools, "IngestFunction": *f.ingest, "DeliveryFunction": *f.delivery,
	}}, nil
}

func logTo(w io.Writer) func(string, ...any) {
	return func(format string, args ...any) {
		fmt.Fprintf(w, "%s herald-load: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
}

func eventsCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("herald-load events", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg eventsConfig
	fs.IntVar(&cfg.Rate, "rate", 5, fmt.Sprintf("events per second (at most %d)", maxRate))
	fs.IntVar(&cfg.Webhooks, "webhooks", 5, fmt.Sprintf("webhooks that every event matches (at most %d)", maxWebhooks))
	fs.DurationVar(&cfg.Duration, "duration", time.Minute, fmt.Sprintf("how long to send (at most %v)", maxDuration))
	fs.DurationVar(&cfg.Drain, "drain", 90*time.Second, fmt.Sprintf("how long to wait for deliveries after the last send (at most %v)", maxDrain))
	out := fs.String("out", ".herald/load", "directory for load-result.json and the plots")
	sf := addStackFlags(fs)
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintln(stderr, "herald-load:", err)
		return errUsage
	}
	opts, err := sf.options()
	if err != nil {
		fmt.Fprintln(stderr, "herald-load:", err)
		return errUsage
	}
	log := logTo(stderr)
	log("starting the stack…")
	t, err := startTarget(ctx, opts)
	if err != nil {
		return err
	}
	defer t.stop()
	res, err := runEvents(ctx, t, cfg, *out, log)
	if err != nil {
		return err
	}
	printEvents(stdout, res, *out)
	if res.Verdict != "OK" {
		return errFailed
	}
	return nil
}

func printEvents(w io.Writer, r *EventsResult, dir string) {
	fmt.Fprintf(w, "events: %d sent (%.2f/s), %d accepted, %d failed\n", r.Sending.Events, r.Sending.SendRate, r.Sending.Accepted, r.Sending.Failed)
	for _, l := range []struct {
		name string
		l    Latency
	}{{"ingest acknowledge", r.Latency.IngestAck}, {"end to end (first byte)", r.Latency.EndToEnd}} {
		fmt.Fprintf(w, "%-24s p50 %8.1f ms  p90 %8.1f ms  p99 %8.1f ms  max %8.1f ms  (n=%d)\n", l.name, l.l.P50, l.l.P90, l.l.P99, l.l.Max, l.l.Count)
	}
	fmt.Fprintf(w, "deliveries/s: offered %.1f, sustained %.2f (%s), overall %.2f\n", r.Throughput.OfferedPerS, r.Throughput.SustainedPerS, r.Throughput.SustainedNote, r.Throughput.OverallPerS)
	l := r.Ledger
	fmt.Fprintf(w, "ledger: %d events × %d matches = %d = %d delivered + %d failed + %d pending (table %d, receiver %d calls, %d duplicate requests)\n",
		l.Events, l.Matches, l.Expected, l.Delivered, l.Failed, l.Pending, l.CallsInTable, l.ReceivedCalls, l.DuplicateRequests)
	for _, p := range l.Problems {
		fmt.Fprintln(w, "  problem:", p)
	}
	fmt.Fprintf(w, "%s  (results in %s)\n", r.Verdict, dir)
}

func apiCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not yet")
}
