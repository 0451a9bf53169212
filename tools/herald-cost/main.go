// Command herald-cost counts the AWS calls Herald makes per ingested event
// and per delivered webhook, and prices a million delivered webhooks at AWS
// list prices (prices.go).
//
// It runs the real ingest and delivery handlers in this process against a
// moto server and a local receiver, counting every SDK call through a
// middleware (test/testenv's Counter) and computing DynamoDB request units
// from item sizes (moto's consumed-capacity figures are constants). The
// memory size, retention, batch size and backups come from template.yaml;
// latencies AWS would add are flags. `make cost` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/heraldhq/herald/shared/ingest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := runMain(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "herald-cost:", err)
		os.Exit(1)
	}
}

func runMain(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("herald-cost", flag.ContinueOnError)
	n := fs.Int("events", 20, "events per scenario")
	matches := fs.Int("matches", 1, "webhooks each event matches")
	a := assumptions{}
	fs.DurationVar(&a.DynamoLatency, "dynamo-latency", 6*time.Millisecond, "assumed latency of one DynamoDB request on AWS")
	fs.DurationVar(&a.SQSLatency, "sqs-latency", 10*time.Millisecond, "assumed latency of one SQS request on AWS")
	fs.DurationVar(&a.ReceiverLatency, "receiver-latency", 100*time.Millisecond, "assumed time a receiver takes to answer")
	fs.IntVar(&a.EventsPerInvoke, "events-per-invoke", 1, "events the CMS sends per ingest invocation")
	fs.IntVar(&a.PlatformLogBytes, "platform-log-bytes", 350, "bytes of Lambda's START/END/REPORT lines per invocation")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *matches < 1 || a.EventsPerInvoke < 1 {
		return fmt.Errorf("-events, -matches and -events-per-invoke must be positive")
	}
	d, err := loadDeployment()
	if err != nil {
		return err
	}

	counted, err := run(ctx, d, *n, *matches, true)
	if err != nil {
		return fmt.Errorf("measure calls: %w", err)
	}
	timed, err := run(ctx, d, *n, *matches, false)
	if err != nil {
		return fmt.Errorf("measure CPU: %w", err)
	}
	md := model{d: d, a: a, m: counted, t: timed}
	report(out, md, *n)
	return reportFixed(out)
}

func report(w io.Writer, md model, n int) {
	m := md.m
	fmt.Fprintf(w, "# Herald: AWS calls and cost per delivered webhook\n\n")
	fmt.Fprintf(w, "%d events, each matching %d webhook(s); delivery batches of %d (template.yaml); %d MB functions; calls kept %d days.\n",
		n, m.Matches, md.d.BatchSize, md.d.MemoryMB, md.d.RetentionDays)
	fmt.Fprintf(w, "Measured on %s/%s, %s, against moto; request units from item sizes (moto's ReturnConsumedCapacity is a constant).\n\n",
		runtime.GOOS, runtime.GOARCH, runtime.Version())

	fmt.Fprintf(w, "## AWS calls\n\n| phase | call | per unit | RRU | WRU table | WRU index |\n|---|---|---:|---:|---:|---:|\n")
	for _, ph := range []struct {
		name string
		p    phase
	}{
		{"ingest, per event", m.Ingest},
		{"first attempt succeeds, per call", m.FirstSuccess},
		{"first attempt fails (500), per call", m.FailedAttempt},
		{"retry succeeds, per call", m.RetrySuccess},
		{"sweep (once a minute), nothing parked", m.Sweep},
	} {
		for _, r := range opRows(ph.p) {
			fmt.Fprintf(w, "| %s | %s | %.2f | %.2f | %.2f | %.2f |\n", ph.name, r.Op, r.PerUnit, r.RRU, r.WRU, r.IdxWRU)
		}
	}
	b := float64(md.d.BatchSize)
	fmt.Fprintf(w, "| event source mapping, per message | SQS.ReceiveMessage + SQS.DeleteMessageBatch | %.2f | | | |\n\n", 2/b)

	fmt.Fprintf(w, "Item sizes: call %.0f B after delivery, its GSI1 entry %.0f B, event %.0f B.\n\n", m.CallItemBytes, m.CallIndexBytes, m.EventItemBytes)

	t := md.t
	fmt.Fprintf(w, "## Time (this machine, moto; the plain run without accounting)\n\n| phase | CPU per unit | wall per invocation |\n|---|---:|---:|\n")
	for _, ph := range []struct {
		name string
		p    phase
	}{{"ingest, per event", t.Ingest}, {"first attempt succeeds, per call", t.FirstSuccess}, {"first attempt fails, per call", t.FailedAttempt}, {"retry succeeds, per call", t.RetrySuccess}} {
		fmt.Fprintf(w, "| %s | %s | %s |\n", ph.name, ms(ph.p.CPU.Seconds()/float64(ph.p.Units)), ms(ph.p.Wall.Seconds()/float64(ph.p.Invocations)))
	}
	fmt.Fprintf(w, "\nModel of a Lambda invocation's duration: waits of %s per DynamoDB and %s per SQS request, a receiver answering in %s, plus the CPU above at %.0f%% of a vCPU (%d MB of %d).\n\n",
		md.a.DynamoLatency, md.a.SQSLatency, md.a.ReceiverLatency, 100*md.cpuShare(), md.d.MemoryMB, fullVCPUMemoryMB)

	for _, sc := range []struct {
		name  string
		lines []line
	}{{"delivered on the first attempt", md.firstSuccess()}, {"delivered on the first retry (one failed attempt)", md.retried()}} {
		fmt.Fprintf(w, "## USD per million webhooks %s\n\n| item | per webhook | unit | USD per unit | USD per million | note |\n|---|---:|---|---:|---:|---|\n", sc.name)
		for _, l := range sc.lines {
			if l.Subtotal {
				fmt.Fprintf(w, "| **%s** | | | | **%.3f** | |\n", l.Item, l.USDPerM)
				continue
			}
			fmt.Fprintf(w, "| %s | %.4g | %s | %.4g | %.3f | %s |\n", l.Item, l.PerCall, l.Unit, l.Price, l.USDPerM, l.Note)
		}
		fmt.Fprintln(w)
	}

	// Fixed costs, whatever the traffic.
	sweepRRU, _, _, _ := dynamoPer(m.Sweep)
	perMonth := 60 * 24 * 365.25 / 12
	sweepUSD := perMonth * (LambdaPerMillionCalls/1e6 + md.gb()*(md.a.DynamoLatency.Seconds()*float64(m.Sweep.Calls["DynamoDB.Query"]))*LambdaArmPerGBSecond + sweepRRU*DynamoPerMillionRRU/1e6)
	fmt.Fprintf(w, "Fixed, per month: the sweeper (%.0f invocations, %d Query each) about %.3f USD; the event source mapping's idle long polls are billed as SQS requests too (not modelled).\n\n", perMonth, m.Sweep.Calls["DynamoDB.Query"], sweepUSD)

	_, _, ir, iw := dynamoPer(m.Ingest)
	_, _, dr, dw := dynamoPer(m.FirstSuccess)
	per := 1 / float64(m.Matches)
	writes, reads := iw*per+dw, ir*per+dr
	sqsReq := sqsPer(m.Ingest)*per + sqsPer(m.FirstSuccess) + 2/b
	total := md.firstSuccess()
	fmt.Fprintf(w, "## Targets (issue 6), first-attempt success\n\n| target | Herald | met |\n|---|---:|---|\n")
	fmt.Fprintf(w, "| ≤ 2 DynamoDB writes | %.3f | %s |\n", writes, yes(writes, 2))
	fmt.Fprintf(w, "| ≤ 1 DynamoDB read | %.3f | %s |\n", reads, yes(reads, 1))
	fmt.Fprintf(w, "| ≤ 0.3 SQS requests | %.3f | %s |\n", sqsReq, yes(sqsReq, 0.3))
	fmt.Fprintf(w, "| ≤ 1 USD per million | %.2f | %s |\n\n", total[len(total)-1].USDPerM, yes(total[len(total)-1].USDPerM, 1))
	fmt.Fprintf(w, "Ingest re-reads a project's webhooks (one Query) every %s per warm function: in a long run that read shows as a fraction per event.\n\n", ingest.DefaultWebhookTTL)
	fmt.Fprintf(w, "Prices checked on %s (tools/herald-cost/prices.go).\n", PricesCheckedOn)
}

// yes says whether got meets a target of at most limit, allowing for
// float rounding (0.1 + 0.2 is 0.30000000000000004).
func yes(got, limit float64) string {
	if got <= limit+1e-9 {
		return "yes"
	}
	return "no"
}

func itoa(n int) string { return strconv.Itoa(n) }

func ms(seconds float64) string { return strconv.FormatFloat(seconds*1000, 'f', 2, 64) + " ms" }
