// Command herald-chaos runs the chaos run (tools/chaos) and prints its
// ledger: thousands of events through the local stack while function
// invocations are killed, moto answers through a fault-injecting proxy and
// receivers fail. It exits 1 if the ledger does not balance.
//
//	go run ./tools/herald-chaos -events 2000 -webhooks 4
package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/heraldhq/herald/tools/chaos"
	"github.com/heraldhq/herald/tools/command"
)

func main() { command.Main("herald-chaos", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := chaos.FullConfig()
	fs := flag.NewFlagSet("herald-chaos", flag.ContinueOnError)
	fs.IntVar(&cfg.Events, "events", cfg.Events, "events to ingest")
	fs.IntVar(&cfg.Webhooks, "webhooks", cfg.Webhooks, "webhooks (1 to 4), each with its own path at the receiver")
	fs.Float64Var(&cfg.AWS.Throttle, "aws-throttle", cfg.AWS.Throttle, "rate of DynamoDB/SQS requests answered 400 throttling")
	fs.Float64Var(&cfg.AWS.Internal, "aws-500", cfg.AWS.Internal, "rate of DynamoDB/SQS requests answered 500 without being applied")
	fs.Float64Var(&cfg.AWS.Ambiguous, "aws-ambiguous", cfg.AWS.Ambiguous, "rate of DynamoDB/SQS requests applied, then answered 500")
	fs.Float64Var(&cfg.AWS.Slow, "aws-slow", cfg.AWS.Slow, "rate of DynamoDB/SQS requests delayed (up to -aws-slow-max)")
	fs.DurationVar(&cfg.AWS.SlowMax, "aws-slow-max", cfg.AWS.SlowMax, "longest injected delay")
	fs.Float64Var(&cfg.Receivers.Fail, "recv-500", cfg.Receivers.Fail, "rate of receiver answers 500")
	fs.Float64Var(&cfg.Receivers.Timeout, "recv-timeout", cfg.Receivers.Timeout, "rate of receiver requests held past the sender's timeout")
	fs.Float64Var(&cfg.Receivers.Reset, "recv-reset", cfg.Receivers.Reset, "rate of receiver connections reset")
	fs.IntVar(&cfg.Receivers.FailFirst, "recv-fail-first", cfg.Receivers.FailFirst, "the receiver fails only the first N requests of a call (0: any)")
	fs.Float64Var(&cfg.KillRate, "kill-rate", cfg.KillRate, "share of delivery invocations killed under way")
	fs.Float64Var(&cfg.IngestKillRate, "ingest-kill-rate", cfg.IngestKillRate, "share of ingest invocations killed under way")
	fs.Float64Var(&cfg.EmulatorKills, "emulator-kills", cfg.EmulatorKills, "share of kills that kill the emulator instead of the runtime")
	fs.DurationVar(&cfg.KillFor, "kill-for", cfg.KillFor, "how long kills go on after the last event is ingested")
	fs.BoolVar(&cfg.WaitRetries, "wait-retries", cfg.WaitRetries, "wait for the queued automatic retries (2 and 6 min) to run")
	fs.DurationVar(&cfg.Drain, "drain", cfg.Drain, "longest wait for the queue to drain")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of every random choice")
	logs := fs.String("logs", "", "write the functions' output to this file")
	if err := command.Parse(fs, args, stderr, nil); err != nil {
		return err
	}
	cfg.Progress = slog.New(slog.NewTextHandler(stderr, nil))
	if *logs != "" {
		f, err := os.Create(*logs)
		if err != nil {
			return err
		}
		defer f.Close()
		cfg.Logs = f
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Drain+30*time.Minute)
	defer cancel()
	res, err := chaos.Run(ctx, cfg)
	if err != nil {
		return err
	}
	res.Print(stdout)
	if !res.Ledger.Balanced {
		return command.ErrFailed
	}
	return nil
}
