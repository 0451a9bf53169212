package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/test/testenv"
	"github.com/heraldhq/herald/tools/command/commandtest"
	"github.com/heraldhq/herald/tools/localstack"
)

// TestShortLoad is the short, bounded form of `make load` and `make
// load-api` (under a minute on a busy 2-core machine): an end-to-end run
// whose ledger must balance with every call delivered, the same through a
// dev.env (-dev); then, on a stack without the delivery function, 20 API
// clients for 5 s with no 5xx and no lost or doubled write, and a 300-event
// ingest burst whose every event has its one call and its one queued job. Figures are logged, not asserted
// (DESIGN: speed goals live in load scripts, not in timed assertions).
func TestShortLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	logs := &testenv.Buffer{}
	tgt, err := startTarget(ctx, stackOptions{hostBuild: testenv.Bootstraps(t), logs: logs,
		poolSizes: map[string]int{"ApiFunction": 2, localstack.IngestFunction: 2, localstack.DeliveryFunction: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.stop()
	out := t.TempDir()

	ev, err := runEvents(ctx, tgt, eventsConfig{Rate: 5, Webhooks: 3, Duration: 4 * time.Second, Drain: time.Minute}, out, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("events: ack %+v; end to end %+v; sustained %.1f/s", ev.Latency.IngestAck, ev.Latency.EndToEnd, ev.Throughput.SustainedPerS)
	l := ev.Ledger
	if ev.Verdict != "OK" || !l.Balanced || l.Events != 20 || l.Expected != 60 || l.Delivered != 60 || l.Duplicates != 0 {
		t.Errorf("events run: verdict %s, ledger %+v; want OK with 20 events × 3 = 60 delivered once each", ev.Verdict, l)
	}
	if c := ev.CPU; c == nil || c.FunctionsMS <= 0 || c.EmulatorsMS <= 0 || c.HarnessMS <= 0 ||
		c.HeraldMaxMS != round2(c.FunctionsMS+c.EmulatorsMS+c.HarnessMS) {
		t.Errorf("CPU per delivery %+v; want the functions' and this process's, both measured", c)
	}
	if ev.Latency.IngestAck.Count != 20 || ev.Latency.EndToEnd.Count != 60 || ev.Latency.EndToEnd.P50 <= 0 {
		t.Errorf("latencies counted %d acks and %d deliveries; want 20 and 60", ev.Latency.IngestAck.Count, ev.Latency.EndToEnd.Count)
	}
	var saved EventsResult
	readJSON(t, filepath.Join(out, "load-result.json"), &saved)
	if saved.Ledger.Delivered != l.Delivered || len(saved.Throughput.DeliveriesSec) == 0 {
		t.Errorf("load-result.json: ledger %+v, %d seconds of throughput", saved.Ledger, len(saved.Throughput.DeliveriesSec))
	}
	var top map[string]json.RawMessage
	readJSON(t, filepath.Join(out, "load-result.json"), &top)
	for _, k := range []string{"command", "started_at", "machine", "stack", "config", "ledger", "verdict"} {
		if _, ok := top[k]; !ok {
			t.Errorf("load-result.json has no top-level %q", k)
		}
	}
	if saved.Machine.CPUs < 1 || saved.StartedAt.IsZero() || !strings.HasPrefix(saved.Command, "herald-load") {
		t.Errorf("load-result.json: ran %q at %v on %+v; want what ran, when and where", saved.Command, saved.StartedAt, saved.Machine)
	}
	for _, f := range []string{"load-latency.svg", "load-throughput.svg"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() < 1000 {
			t.Errorf("%s: %v", f, err)
		}
	}

	// As make load-api: a stack without the delivery function, so that every
	// call of the burst must have its job in the queue.
	apiStack, err := startTarget(ctx, stackOptions{hostBuild: testenv.Bootstraps(t), logs: logs, noDelivery: true,
		poolSizes: map[string]int{"ApiFunction": 2, localstack.IngestFunction: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer apiStack.stop()
	api, err := runAPI(ctx, apiStack, apiConfig{Clients: 20, Duration: 5 * time.Second, Seed: 1,
		Burst: 300, BurstWebhooks: 1, BurstBatch: 25, BurstWorkers: 4, Drain: time.Minute}, out, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("API: %d requests, %.1f/s, p99 %.0f ms; burst %.1f events/s", api.Requests, api.PerS, api.Overall.P99, api.Burst.EventsPerS)
	w := api.Writes
	if api.Verdict != "OK" || api.Errors5xx != 0 || api.Transport != 0 || w.LostCreates+w.LostDeletes+w.UnexpectedWebhooks+w.VersionMismatches != 0 {
		t.Errorf("API run: verdict %s, problems %q, writes %+v", api.Verdict, api.Problems, w)
	}
	if w.CreatesAcked == 0 || w.UpdatesAcked+w.HotUpdatesAcked == 0 || w.WebhooksInTable != w.ExpectedWebhooks {
		t.Errorf("writes %+v: want creates and updates, and the table to hold what was expected", w)
	}
	if b := api.Burst; b.Accepted != 300 || !b.Ledger.Balanced || b.Ledger.CallsInTable != 300 || b.Ledger.Pending != 300 ||
		b.QueuedJobs == nil || *b.QueuedJobs != 300 {
		t.Errorf("burst: %d accepted, %v jobs queued, ledger %+v; want 300 events with one pending call and one job each", b.Accepted, b.QueuedJobs, b.Ledger)
	}

	// -dev: the same stack found through a dev.env, as `make dev` writes it.
	var env bytes.Buffer
	for k, v := range tgt.devEnv {
		env.WriteString(k + "=" + v + "\n")
	}
	path := filepath.Join(t.TempDir(), "dev.env")
	if err := os.WriteFile(path, env.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	dev, err := devTarget(path)
	if err != nil {
		t.Fatal(err)
	}
	dr, err := runEvents(ctx, dev, eventsConfig{Rate: 4, Webhooks: 1, Duration: 2 * time.Second, Drain: time.Minute}, out, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if dr.Verdict != "OK" || dr.Ledger.Delivered != 8 {
		t.Errorf("through dev.env: verdict %s, ledger %+v; want 8 events delivered", dr.Verdict, dr.Ledger)
	}
	if t.Failed() {
		t.Logf("function logs (tail):\n%s", tail(logs.String(), 6000))
	}
}

func TestDevTargetNeedsItsFile(t *testing.T) {
	if _, err := devTarget(filepath.Join(t.TempDir(), "dev.env")); err == nil {
		t.Error("no dev.env: got a target, want an error")
	}
	path := filepath.Join(t.TempDir(), "dev.env")
	if err := os.WriteFile(path, []byte("HERALD_API_URL=http://127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := devTarget(path); err == nil || !strings.Contains(err.Error(), "HERALD_INGEST_URL") {
		t.Errorf("a dev.env without the ingest URL: got %v", err)
	}
}

func TestUsage(t *testing.T) {
	commandtest.UsageErrors(t, run, map[string][]string{
		"no command":        nil,
		"unknown command":   {"soak"},
		"rate over the cap": {"events", "-rate", "100000"},
		"endless":           {"events", "-duration", "10h"},
		"too many webhooks": {"events", "-webhooks", "500"},
		"too many clients":  {"api", "-clients", "5000"},
		"huge burst":        {"api", "-burst", "1000000"},
		"bad flag":          {"api", "-nope"},
	})
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
