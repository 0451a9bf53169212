package browser_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/test/testenv"
	"github.com/heraldhq/herald/tools/localstack"
)

// project is the project the test signs in to.
const project = "browser-test"

// receivedCall is one request the receiver got, and what it answered.
type receivedCall struct {
	webhookID string
	body      string
	status    int
}

// flakyReceiver fails its first call with a 500 and answers 200 after, so
// the call is rescheduled first and a resend succeeds.
type flakyReceiver struct {
	mu    sync.Mutex
	calls []receivedCall
}

func (f *flakyReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	status := http.StatusOK
	if len(f.calls) == 0 {
		status = http.StatusInternalServerError
	}
	f.calls = append(f.calls, receivedCall{webhookID: r.Header.Get("Webhook-Id"), body: string(body), status: status})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"received":%d}`, len(f.calls))
}

func (f *flakyReceiver) received() []receivedCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]receivedCall(nil), f.calls...)
}

// deadReceiver fails every call until it gets a test send (a ping), and
// answers 200 to everything after: an endpoint that was down, checked, and
// fixed.
type deadReceiver struct {
	mu    sync.Mutex
	fixed bool
	calls []receivedCall
}

func (d *deadReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d.mu.Lock()
	defer d.mu.Unlock()
	if strings.Contains(string(body), `"event_type":"ping"`) {
		d.fixed = true
	}
	status := http.StatusServiceUnavailable
	if d.fixed {
		status = http.StatusOK
	}
	d.calls = append(d.calls, receivedCall{webhookID: r.Header.Get("Webhook-Id"), body: string(body), status: status})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `{"pong":true}`)
}

func (d *deadReceiver) received() []receivedCall {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]receivedCall(nil), d.calls...)
}

// The views admin.mjs screenshots; docs/admin-*.png are copies of some.
var wantScreenshots = []string{
	"signin", "form-error", "webhook-form", "webhook-edit", "webhooks", "activity", "call", "call-resent",
	"webhooks-phone", "activity-phone", "call-phone", "webhook-health", "bulk-resend",
}

// findChromium is the browser chromium.sh finds ($HERALD_CHROMIUM, else the
// usual places), or a failure that says what to install: the browser tests
// never skip.
func findChromium(t *testing.T) string {
	t.Helper()
	var stderr strings.Builder
	cmd := exec.Command("sh", "chromium.sh")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s (%v)", strings.TrimSpace(stderr.String()), err)
	}
	return strings.TrimSpace(string(out))
}

// TestChromiumScript: chromium.sh takes HERALD_CHROMIUM when it names an
// executable, refuses it with its name when it does not, and otherwise
// finds a browser or says, in one line, what to install.
func TestChromiumScript(t *testing.T) {
	run := func(env ...string) (string, string, error) {
		cmd := exec.Command("sh", "chromium.sh")
		cmd.Env = append(env, "PATH=")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return strings.TrimSpace(stdout.String()), stderr.String(), err
	}
	fake := filepath.Join(t.TempDir(), "chrome")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	if out, _, err := run("HERALD_CHROMIUM=" + fake); err != nil || out != fake {
		t.Errorf("HERALD_CHROMIUM an executable: printed %q (%v); want %s", out, err, fake)
	}
	if _, stderr, err := run("HERALD_CHROMIUM=" + fake + ".missing"); err == nil || !strings.Contains(stderr, fake+".missing is not an executable") {
		t.Errorf("HERALD_CHROMIUM missing: %v, %q; want a failure naming it", err, stderr)
	}
	out, stderr, err := run()
	if fi, serr := os.Stat(out); (err == nil) != (serr == nil && !fi.IsDir()) ||
		(err != nil && (strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "apt-get install chromium"))) {
		t.Errorf("no HERALD_CHROMIUM: printed %q, said %q (%v); want a browser's path, or one line saying what to install", out, stderr, err)
	}
}

// TestAdminPageInChromium runs admin.mjs in headless Chromium against the
// whole local stack (the three functions under the Lambda emulator, the
// gateway, moto) and a real receiver on 127.0.0.1.
func TestAdminPageInChromium(t *testing.T) {
	chromium := findChromium(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed to drive Chromium: %v", err)
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("playwright-core is not installed: `make test` runs npm ci in test/browser: %v", err)
	}
	artifacts, err := filepath.Abs("artifacts")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(artifacts); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	logs, err := os.Create(filepath.Join(artifacts, "stack.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	stack, err := localstack.Start(ctx, localstack.Options{
		HostBuild: testenv.Bootstraps(t),
		PoolSizes: map[string]int{"ApiFunction": 2, localstack.IngestFunction: 1, localstack.DeliveryFunction: 1},
		// The receiver is on 127.0.0.1, which deployed stacks refuse; a
		// webhook is disabled once its attempts all failed for 3.6 s.
		Overrides: map[string]map[string]string{"Parameters": {"ALLOW_PRIVATE_TARGETS": "true", "AUTO_DISABLE_AFTER_HOURS": "0.001"}},
		// Kept as an artifact, and in the suite's log directory, where
		// every log is searched for the secrets the tests used.
		Logs: io.MultiWriter(logs, testenv.LogWriter(t, "stack")),
	})
	if err != nil {
		t.Fatalf("start the local stack: %v", err)
	}
	defer stack.Stop()
	token, err := stack.SeedProject(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Secret(t, token)

	receiver := &flakyReceiver{}
	srv := httptest.NewServer(receiver) // listens on 127.0.0.1
	defer srv.Close()
	receiverURL := srv.URL + "/hooks/herald"
	dead := &deadReceiver{}
	deadSrv := httptest.NewServer(dead)
	defer deadSrv.Close()

	cmd := exec.CommandContext(ctx, node, "admin.mjs")
	cmd.Env = append(os.Environ(),
		"HERALD_URL="+stack.APIURL,
		"HERALD_TOKEN="+token,
		"HERALD_PROJECT="+project,
		"HERALD_INGEST_URL="+stack.IngestURL,
		"HERALD_RECEIVER_URL="+receiverURL,
		"HERALD_DEAD_URL="+deadSrv.URL,
		"HERALD_ARTIFACTS="+artifacts,
		"CHROMIUM="+chromium,
	)
	out, err := testenv.RunLogged(t, cmd)
	if err != nil {
		t.Fatalf("admin.mjs: %v (screenshots and stack.log in %s)", err, artifacts)
	}
	passed, failed, ok := summary(out)
	if !ok || failed != 0 || passed < 15 {
		t.Fatalf("admin.mjs: got %d passed, %d failed (summary found: %v); want every step to pass", passed, failed, ok)
	}

	// What the receiver saw agrees with what the page showed: one call
	// failed, then resent with the same webhook-id, and the body is the
	// custom payload the page previewed.
	got := receiver.received()
	if len(got) < 2 {
		t.Fatalf("the receiver got %d calls, want the first attempt and the resend", len(got))
	}
	want := fmt.Sprintf(`{"record":"293467","event":"update","site":%q}`, project)
	for i, c := range got[:2] {
		if c.body != want {
			t.Errorf("call %d: got body %q, want %q", i+1, c.body, want)
		}
		if c.webhookID == "" || c.webhookID != got[0].webhookID {
			t.Errorf("call %d: got webhook-id %q, want the first call's %q", i+1, c.webhookID, got[0].webhookID)
		}
	}
	if got[0].status != 500 || got[1].status != 200 {
		t.Errorf("got answers %d then %d, want 500 then 200", got[0].status, got[1].status)
	}

	// The dead endpoint: three failures (two calls of the disabled
	// webhook, one of the failing one), the test send, then the disabled
	// webhook's two calls resent with their own webhook-ids, answered.
	dc := dead.received()
	if len(dc) != 6 {
		t.Fatalf("the dead endpoint got %d calls; want 3 failures, a test send and 2 resends", len(dc))
	}
	if !strings.Contains(dc[3].body, `"event_type":"ping"`) || dc[3].status != 200 {
		t.Errorf("the fourth call %q answered %d; want the test send, answered", dc[3].body, dc[3].status)
	}
	var failedIDs, resentIDs []string
	for _, c := range dc[:3] {
		if strings.Contains(c.body, `"event_type":"update"`) {
			failedIDs = append(failedIDs, c.webhookID)
		}
	}
	for _, c := range dc[4:] {
		resentIDs = append(resentIDs, c.webhookID)
		if c.status != 200 {
			t.Errorf("a resend answered %d", c.status)
		}
	}
	slices.Sort(failedIDs)
	slices.Sort(resentIDs)
	if len(failedIDs) != 2 || !slices.Equal(failedIDs, resentIDs) {
		t.Errorf("resent %v; want the disabled webhook's failed calls %v, with the same webhook-ids", resentIDs, failedIDs)
	}

	for _, name := range wantScreenshots {
		p := filepath.Join(artifacts, "admin-"+name+".png")
		if st, err := os.Stat(p); err != nil || st.Size() < 5000 {
			t.Errorf("screenshot %s: missing or nearly empty (%v)", p, err)
		}
	}
}

var summaryLine = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed$`)

// summary reads admin.mjs's closing line.
func summary(out string) (passed, failed int, ok bool) {
	m := summaryLine.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return 0, 0, false
	}
	last := m[len(m)-1]
	passed, _ = strconv.Atoi(last[1])
	failed, _ = strconv.Atoi(last[2])
	return passed, failed, true
}
