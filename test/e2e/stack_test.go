package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/test/testenv"
	"github.com/heraldhq/herald/tools/localstack"
)

// env is the running stack the tests of this package share, with a project
// and its token.
type env struct {
	stack   *localstack.Stack
	token   string
	project string
	logs    *lockedBuffer
}

// startStack starts the whole local stack for one test. The receivers are on
// 127.0.0.1, which deployed stacks refuse, so private targets are allowed.
func startStack(t *testing.T, opts localstack.Options) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logs := &lockedBuffer{}
	opts.HostBuild = testenv.Bootstraps(t)
	if opts.PoolSizes == nil {
		opts.PoolSizes = map[string]int{"ApiFunction": 2, localstack.IngestFunction: 1, localstack.DeliveryFunction: 2}
	}
	if opts.Overrides == nil {
		opts.Overrides = map[string]map[string]string{"Parameters": {"ALLOW_PRIVATE_TARGETS": "true"}}
	}
	opts.Logs = io.MultiWriter(logs, testenv.LogWriter(t, "functions"))
	opts.MotoLogs = io.Discard
	stack, err := localstack.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start the local stack: %v", err)
	}
	e := &env{stack: stack, project: "e2e", logs: logs}
	t.Cleanup(func() {
		stack.Stop()
		if t.Failed() {
			t.Logf("function logs:\n%s", tail(logs.String(), 8000))
		}
	})
	if e.token, err = stack.SeedProject(ctx, e.project); err != nil {
		t.Fatal(err)
	}
	return e
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// api sends one request to the API through the gateway and decodes the JSON
// answer.
func (e *env) api(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	return testenv.CallAPI(t, e.stack.APIURL, e.token, method, path, body)
}

// createWebhook creates a webhook through the API and returns its id.
func (e *env) createWebhook(t *testing.T, attrs map[string]any) string {
	t.Helper()
	base := map[string]any{"custom_payload": nil, "headers": map[string]any{}, "http_basic_user": nil, "http_basic_password": nil,
		"events": []any{map[string]any{"entity_type": "item", "event_types": []any{"update", "publish"}}}}
	maps.Copy(base, attrs)
	status, out := e.api(t, "POST", "/webhooks", map[string]any{"data": map[string]any{"type": "webhook", "attributes": base}})
	if status != 201 {
		t.Fatalf("create webhook: %d %v", status, out)
	}
	return out["data"].(map[string]any)["id"].(string)
}

// ingest invokes the ingest function, as the CMS does, and returns its reply.
func (e *env) ingest(t *testing.T, events ...map[string]any) map[string]any {
	t.Helper()
	var payload any = events[0]
	if len(events) > 1 {
		payload = map[string]any{"events": events}
	}
	raw, _ := json.Marshal(payload)
	res, err := http.Post(e.stack.IngestURL, "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("invoke ingest: %v", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil || out["results"] == nil {
		t.Fatalf("ingest answered %d %s", res.StatusCode, body)
	}
	return out
}

// recordEvent is a record event of the test project, from events/ingest.
func (e *env) recordEvent(t *testing.T, eventType, eventID string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "ingest", "item-"+eventType+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev["project_id"], ev["event_id"] = e.project, eventID
	return ev
}

// call reads one call through the API.
func (e *env) call(t *testing.T, id string) map[string]any {
	t.Helper()
	status, out := e.api(t, "GET", "/webhook_calls/"+id, nil)
	if status != 200 {
		t.Fatalf("get call %s: %d %v", id, status, out)
	}
	return out["data"].(map[string]any)["attributes"].(map[string]any)
}

// waitFor polls cond every 100 ms until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting %v for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// node runs a script of test/client with the environment given.
func node(t *testing.T, script string, env map[string]string, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command("node", append([]string{script}, args...)...)
	cmd.Dir = filepath.Join("..", "client")
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s %s: %v\n%s%s", script, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func callIDs(reply map[string]any) []string {
	var ids []string
	for _, r := range reply["results"].([]any) {
		for _, c := range r.(map[string]any)["calls"].([]any) {
			ids = append(ids, c.(map[string]any)["call_id"].(string))
		}
	}
	return ids
}
