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
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/heraldhq/herald/tools/chaos"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "herald-chaos:", err)
		os.Exit(2)
	}
}

func run() error {
	cfg := chaos.FullConfig()
	flag.IntVar(&cfg.Events, "events", cfg.Events, "events to ingest")
	flag.IntVar(&cfg.Webhooks, "webhooks", cfg.Webhooks, "webhooks (1 to 4), each with its own receiver")
	flag.Float64Var(&cfg.AWS.Throttle, "aws-throttle", cfg.AWS.Throttle, "rate of DynamoDB/SQS requests answered 400 throttling")
	flag.Float64Var(&cfg.AWS.Internal, "aws-500", cfg.AWS.Internal, "rate of DynamoDB/SQS requests answered 500 without being applied")
	flag.Float64Var(&cfg.AWS.Ambiguous, "aws-ambiguous", cfg.AWS.Ambiguous, "rate of DynamoDB/SQS requests applied, then answered 500")
	flag.Float64Var(&cfg.AWS.Slow, "aws-slow", cfg.AWS.Slow, "rate of DynamoDB/SQS requests delayed (up to -aws-slow-max)")
	flag.DurationVar(&cfg.AWS.SlowMax, "aws-slow-max", cfg.AWS.SlowMax, "longest injected delay")
	flag.Float64Var(&cfg.Receivers.Fail, "recv-500", cfg.Receivers.Fail, "rate of receiver answers 500")
	flag.Float64Var(&cfg.Receivers.Timeout, "recv-timeout", cfg.Receivers.Timeout, "rate of receiver requests held past the sender's timeout")
	flag.Float64Var(&cfg.Receivers.Reset, "recv-reset", cfg.Receivers.Reset, "rate of receiver connections reset")
	flag.IntVar(&cfg.Receivers.FailFirst, "recv-fail-first", cfg.Receivers.FailFirst, "receivers fail only the first N requests of a call (0: any)")
	flag.Float64Var(&cfg.KillRate, "kill-rate", cfg.KillRate, "share of delivery invocations killed under way")
	flag.Float64Var(&cfg.IngestKillRate, "ingest-kill-rate", cfg.IngestKillRate, "share of ingest invocations killed under way")
	flag.Float64Var(&cfg.EmulatorKills, "emulator-kills", cfg.EmulatorKills, "share of kills that kill the emulator instead of the runtime")
	flag.DurationVar(&cfg.KillFor, "kill-for", cfg.KillFor, "how long kills go on after the last event is ingested")
	flag.BoolVar(&cfg.WaitRetries, "wait-retries", cfg.WaitRetries, "wait for the queued automatic retries (2 and 6 min) to run")
	flag.DurationVar(&cfg.Drain, "drain", cfg.Drain, "longest wait for the queue to drain")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of every random choice")
	logs := flag.String("logs", "", "write the functions' output to this file")
	flag.Parse()

	progress := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg.Progress = progress
	if *logs != "" {
		f, err := os.Create(*logs)
		if err != nil {
			return err
		}
		defer f.Close()
		cfg.Logs = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.Drain+30*time.Minute)
	defer cancel()
	res, err := chaos.Run(ctx, cfg)
	if err != nil {
		return err
	}
	res.Print(os.Stdout)
	if !res.Ledger.Balanced {
		os.Exit(1)
	}
	return nil
}
