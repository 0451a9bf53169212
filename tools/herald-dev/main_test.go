package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/test/testenv"
	"github.com/heraldhq/herald/tools/command/commandtest"
	"github.com/heraldhq/herald/tools/localstack"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func TestUsage(t *testing.T) {
	commandtest.UsageErrors(t, run, map[string][]string{
		"no command":           nil,
		"unknown command":      {"down"},
		"invoke without flags": {"invoke"},
		"invoke without event": {"invoke", "-function", "IngestFunction"},
		"bad flag":             {"up", "-nope"},
	})
}

func TestSampleTokenIsWellFormed(t *testing.T) {
	if !herald.WellFormedToken(sampleToken) {
		t.Errorf("%q is not a well-formed token: the API would refuse the sample events", sampleToken)
	}
}

// TestDemo: the demo make dev seeds works end to end. An ingested sample
// event reaches the demo receiver with a valid signature, and the sample
// API events, with their token, find the demo webhook.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stack, err := localstack.Start(ctx, localstack.Options{HostBuild: testenv.Bootstraps(t), Logs: testenv.LogWriter(t, "functions"),
		PoolSizes: map[string]int{localstack.APIFunction: 1, localstack.IngestFunction: 1, localstack.DeliveryFunction: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Stop()
	printed := &testenv.Buffer{}
	token, rcv, err := seedDemo(ctx, stack, 0, printed)
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.Close()
	if !herald.WellFormedToken(token) {
		t.Errorf("the demo token %q is not well formed", token)
	}
	root, _ := localstack.RepoRoot()
	read := func(path string) []byte {
		raw, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	if _, err := stack.Pool(localstack.IngestFunction).Invoke(ctx, read("events/ingest/item-update.json")); err != nil {
		t.Fatal(err)
	}
	// The receiver logs a request, then prints it: wait for the print.
	for !strings.Contains(printed.String(), "receiver: ") && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
	}
	if out := printed.String(); !strings.Contains(out, "POST /hooks/item/293467 item.update webhook-id=") || !strings.Contains(out, "signature valid") {
		t.Errorf("the demo receiver printed %q; want the call to /hooks/item/293467, its signature valid", out)
	}
	answer, err := stack.Pool(localstack.APIFunction).Invoke(ctx, read("events/api/webhooks-get.json"))
	if err != nil || !strings.Contains(string(answer), `"statusCode":200`) || !strings.Contains(string(answer), demoWebhookID) {
		t.Errorf("events/api/webhooks-get.json: %s %v; want the demo webhook", answer, err)
	}
}

// TestMetricsLinesAreShownInShort: `make dev` shows the functions' metrics
// as CloudWatch reads them, and passes their other lines through.
func TestMetricsLinesAreShownInShort(t *testing.T) {
	var out bytes.Buffer
	l := &functionLogs{out: &out}
	in := `[DeliveryFunction#0] {"Deliveries":3,"Function":"DeliveryFunction","Outcome":"success",` +
		`"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"Herald","Dimensions":[["Function"],["Function","Outcome"]],` +
		`"Metrics":[{"Name":"Deliveries","Unit":"Count"}]}]}}` + "\n" +
		`[DeliveryFunction#0] {"time":"t","level":"INFO","msg":"attempt"}` + "\n"
	if _, err := l.Write([]byte(in)); err != nil {
		t.Fatal(err)
	}
	want := "[DeliveryFunction#0] metrics: DeliveryFunction Deliveries{success}=3\n" +
		`[DeliveryFunction#0] {"time":"t","level":"INFO","msg":"attempt"}` + "\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestAutoDisableOverride(t *testing.T) {
	got, err := autoDisableOverride(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	hours := got["Parameters"]["AUTO_DISABLE_AFTER_HOURS"]
	s, err := config.FromEnv(func(k string) string {
		return map[string]string{"TABLE_NAME": "t", "DELIVERY_QUEUE_URL": "q", "FIRST_ATTEMPT_QUEUE_URL": "f.fifo", "AUTO_DISABLE_AFTER_HOURS": hours}[k]
	})
	if err != nil || s.AutoDisableAfter != 30*time.Second {
		t.Errorf("-auto-disable-after 30s: the functions read %q as %v (%v); want 30s", hours, s.AutoDisableAfter, err)
	}
	if none, err := autoDisableOverride(0); none != nil || err != nil {
		t.Errorf("no flag: %v, %v; want the template's window", none, err)
	}
	if _, err := autoDisableOverride(time.Millisecond); err == nil {
		t.Error("a window under a second was accepted")
	}
	if got := autoDisableText("120"); got != "120h0m0s" {
		t.Errorf("text for 120 hours: %q", got)
	}
}

// TestDemoWebhookIsSeedable: the store takes only ULIDs as webhook ids (it
// refused "demo-webhook", and make dev stopped at seeding), and the sample
// API events name the demo webhook.
func TestDemoWebhookIsSeedable(t *testing.T) {
	if !herald.IsID(demoWebhookID) {
		t.Fatalf("the demo webhook's id %q is not a ULID; the store refuses it", demoWebhookID)
	}
	files, _ := filepath.Glob("../../events/api/webhooks-*.json")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), `"/webhooks/`) && !strings.Contains(string(raw), "/webhooks/"+demoWebhookID) {
			t.Errorf("%s names another webhook than the demo one", f)
		}
	}
}
