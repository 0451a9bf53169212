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
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/shared/ingest"
	"github.com/heraldhq/herald/tools/command"
)

func main() {
	config.TuneRuntime(os.Getenv) // as the functions do: the CPU figures are theirs
	command.Main("herald-cost", runMain)
}

func runMain(ctx context.Context, args []string, out, _ io.Writer) error {
	fs := flag.NewFlagSet("herald-cost", flag.ContinueOnError)
	n := fs.Int("events", 20, "events per scenario")
	matches := fs.Int("matches", 1, "webhooks each event matches")
	a := assumptions{}
	fs.DurationVar(&a.DynamoLatency, "dynamo-latency", 6*time.Millisecond, "assumed latency of one DynamoDB request on AWS")
	fs.DurationVar(&a.SQSLatency, "sqs-latency", 10*time.Millisecond, "assumed latency of one SQS request on AWS")
	fs.DurationVar(&a.ReceiverLatency, "receiver-latency", 100*time.Millisecond, "assumed time a receiver takes to answer")
	fs.IntVar(&a.EventsPerInvoke, "events-per-invoke", 1, "events the CMS sends per ingest invocation")
	fs.IntVar(&a.PlatformLogBytes, "platform-log-bytes", 350, "bytes of Lambda's START/END/REPORT lines per invocation, counted when template.yaml's PlatformLogLevel keeps them (INFO, DEBUG)")
	fs.Float64Var(&a.BatchFill, "batch-fill", 0, "messages per delivery invocation (0: the batch size, as under steady traffic; 1: calls trickling in with no batching window)")
	fs.Float64Var(&a.Utilization, "utilization", 0.7, "share of provisioned capacity used, for the provisioned-capacity figures (auto scaling's target)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *matches < 1 || a.EventsPerInvoke < 1 || a.Utilization <= 0 || a.Utilization > 1 || a.BatchFill < 0 {
		return fmt.Errorf("-events, -matches and -events-per-invoke must be positive, -utilization in (0, 1], -batch-fill at least 0")
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

	type named struct {
		name string
		p    phase
	}
	fmt.Fprintf(w, "## AWS calls\n\n| phase | call | per unit | RRU | WRU table | WRU index |\n|---|---|---:|---:|---:|---:|\n")
	for _, ph := range []named{{"ingest, per event", m.Ingest}, {"first attempt succeeds, per call", m.FirstSuccess},
		{"first attempt fails (500), per call", m.FailedAttempt}, {"retry succeeds, per call", m.RetrySuccess},
		{"sweep (once a minute), nothing parked", m.Sweep}} {
		for _, op := range slices.Sorted(maps.Keys(ph.p.Calls)) {
			var u usage // DynamoDB's, by operation
			if name, ok := strings.CutPrefix(op, "DynamoDB."); ok {
				u = ph.p.Dynamo[name]
			}
			n := float64(ph.p.Units)
			fmt.Fprintf(w, "| %s | %s | %.2f | %.2f | %.2f | %.2f |\n", ph.name, op, float64(ph.p.Calls[op])/n, u.RRU/n, u.WRU/n, u.IdxWRU/n)
		}
	}
	b := md.fill()
	fmt.Fprintf(w, "| event source mapping, per message | SQS.ReceiveMessage + SQS.DeleteMessageBatch | %.2f | | | |\n\n", 2/b)

	fmt.Fprintf(w, "Item sizes after delivery: call %.0f B, its index entries %.0f B, event %.0f B; stored per delivered webhook with DynamoDB's 100 B per item: %.0f B.\n\n",
		m.CallItemBytes, m.CallIndexBytes, m.EventItemBytes, md.storedPerCall())

	t := md.t
	fmt.Fprintf(w, "## Time (this machine, moto; the plain run without accounting)\n\n| phase | CPU per unit | wall per invocation |\n|---|---:|---:|\n")
	for _, ph := range []named{{"ingest, per event", t.Ingest}, {"first attempt succeeds, per call", t.FirstSuccess},
		{"first attempt fails, per call", t.FailedAttempt}, {"retry succeeds, per call", t.RetrySuccess}} {
		fmt.Fprintf(w, "| %s | %s | %s |\n", ph.name, ms(ph.p.cpuPerUnit()), ms(ph.p.Wall.Seconds()/float64(ph.p.Invocations)))
	}
	perDelivered := t.Ingest.cpuPerUnit()/float64(m.Matches) + t.FirstSuccess.cpuPerUnit()
	fmt.Fprintf(w, "\nIngest and delivery CPU per webhook delivered on its first attempt, SDK included: %s (the in-process receiver's share included).\n", ms(perDelivered))
	fmt.Fprintf(w, "\nModel of a Lambda invocation's duration: waits of %s per DynamoDB and %s per SQS request, a receiver answering in %s, plus the CPU above at %.0f%% of a vCPU (%d MB of %d).\n\n",
		md.a.DynamoLatency, md.a.SQSLatency, md.a.ReceiverLatency, 100*md.cpuShare(), md.d.MemoryMB, fullVCPUMemoryMB)

	prov := md
	prov.a.Provisioned = true
	for _, sc := range []struct {
		name  string
		lines []line
	}{{"delivered on the first attempt", md.firstSuccess()}, {"delivered on the first retry (one failed attempt)", md.retried()},
		{fmt.Sprintf("delivered on the first attempt, provisioned capacity %.0f%% used", 100*md.a.Utilization), prov.firstSuccess()}} {
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

	_, iwru, _, _ := dynamoPer(m.Ingest)
	_, dwru, _, _ := dynamoPer(m.FirstSuccess)
	per := 1 / float64(m.Matches)
	wru := iwru*per + dwru
	onDemand, provisioned := md.firstSuccess(), prov.firstSuccess()
	usd, provUSD := onDemand[len(onDemand)-1].USDPerM, provisioned[len(provisioned)-1].USDPerM
	// The lean data path's targets (issue 11); each one holds for the
	// fan-out it names.
	wruTarget, usdTarget := 4.0, 3.0
	if m.Matches >= 10 {
		wruTarget, usdTarget = 2.5, 2.0
	}
	fmt.Fprintf(w, "## Targets (issue 11), first-attempt success, %d webhook(s) per event\n\n| target | Herald | met |\n|---|---:|---|\n", m.Matches)
	fmt.Fprintf(w, "| ≤ %.1f WRU | %.3f | %s |\n", wruTarget, wru, yes(wru, wruTarget))
	fmt.Fprintf(w, "| ≤ %.2f USD per million, on demand | %.2f | %s |\n", usdTarget, usd, yes(usd, usdTarget))
	if m.Matches >= 10 {
		fmt.Fprintf(w, "| ≤ 1.20 USD per million, provisioned at %.0f%% | %.2f | %s |\n", 100*md.a.Utilization, provUSD, yes(provUSD, 1.2))
	} else {
		fmt.Fprintf(w, "| provisioned at %.0f%% (for information) | %.2f | |\n", 100*md.a.Utilization, provUSD)
	}
	fmt.Fprintf(w, "| ≤ 1.5 ms ingest + delivery CPU | %s | %s |\n", ms(perDelivered), yes(perDelivered, 0.0015))
	fmt.Fprintf(w, "| ≤ 1,200 bytes stored, %d days | %.0f | %s |\n\n", md.d.RetentionDays, md.storedPerCall(), yes(md.storedPerCall(), 1200))
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

func ms(seconds float64) string { return strconv.FormatFloat(seconds*1000, 'f', 2, 64) + " ms" }
