package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
)

type echo struct {
	Event events.APIGatewayV2HTTPRequest `json:"event"`
	Body  []byte                         `json:"body"`
	Env   map[string]string              `json:"env"`
	PID   int                            `json:"pid"`
}

// TestGatewayEndToEnd sends HTTP requests through the gateway to the test
// function running as ApiFunction under the emulator.
func TestGatewayEndToEnd(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{
		Functions:      []string{"ApiFunction", IngestFunction},
		PoolSizes:      map[string]int{"ApiFunction": 1, IngestFunction: 1},
		GatewayTimeout: time.Second,
		Overrides:      map[string]map[string]string{"ApiFunction": {"HERALD_STAGE": "e2e"}},
	})
	client := &http.Client{Timeout: 20 * time.Second}
	do := func(method, path, contentType string, body []byte) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, s.APIURL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Cookie", "session=abc; theme=dark")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}

	t.Run("echo", func(t *testing.T) {
		res, body := do(http.MethodPost, "/hooks/a%2Fb?x=1&x=2", "application/json", []byte(`{"a":1}`))
		if res.StatusCode != 201 || res.Header.Get("X-Echo") != "yes" || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("got %d %v %s, want 201 with the function's headers", res.StatusCode, res.Header, body)
		}
		if got, want := res.Header.Values("Set-Cookie"), []string{"a=1; Path=/", "b=2"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Set-Cookie: got %q, want %q", got, want)
		}
		if res.Header.Get("Apigw-Requestid") == "" {
			t.Error("no apigw-requestid header")
		}
		var e echo
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatal(err)
		}
		ev := e.Event
		if ev.RawPath != "/hooks/a%2Fb" || ev.RequestContext.HTTP.Method != "POST" || ev.RawQueryString != "x=1&x=2" ||
			ev.QueryStringParameters["x"] != "1,2" || ev.RequestContext.RequestID != res.Header.Get("Apigw-Requestid") {
			t.Errorf("event: got %+v", ev)
		}
		if string(e.Body) != `{"a":1}` || ev.IsBase64Encoded {
			t.Errorf("body: got %q (base64 %v), want the JSON as text", e.Body, ev.IsBase64Encoded)
		}
		if want := []string{"session=abc", "theme=dark"}; !reflect.DeepEqual(ev.Cookies, want) {
			t.Errorf("cookies: got %q, want %q", ev.Cookies, want)
		}
		for k, want := range map[string]string{
			"TABLE_NAME":                      "herald-local",
			"DELIVERY_QUEUE_URL":              s.MotoURL + "/123456789012/herald-local-delivery",
			"AWS_ENDPOINT_URL_DYNAMODB":       s.MotoURL,
			"AWS_ENDPOINT_URL_SQS":            s.MotoURL,
			"AWS_REGION":                      "us-east-1",
			"LOG_LEVEL":                       "debug",
			"ALLOW_PRIVATE_TARGETS":           "true",
			"CALL_RETENTION_DAYS":             "30",
			"HERALD_STAGE":                    "e2e",
			"AWS_LAMBDA_FUNCTION_NAME":        "ApiFunction",
			"AWS_LAMBDA_FUNCTION_TIMEOUT":     "30",
			"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		} {
			if got := e.Env[k]; got != want {
				t.Errorf("function env %s: got %q, want %q", k, got, want)
			}
		}
		if !reflect.DeepEqual(s.Functions["ApiFunction"].Env["DELIVERY_QUEUE_URL"], e.Env["DELIVERY_QUEUE_URL"]) {
			t.Errorf("Stack.Functions env differs from the function's")
		}
	})

	t.Run("binary both ways", func(t *testing.T) {
		res, body := do(http.MethodPut, "/upload", "application/octet-stream", []byte{0, 0xff, 0x10})
		var e echo
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("%d %s: %v", res.StatusCode, body, err)
		}
		if !e.Event.IsBase64Encoded || string(e.Body) != "\x00\xff\x10" {
			t.Errorf("request body: got %q (base64 %v), want the bytes base64-encoded", e.Body, e.Event.IsBase64Encoded)
		}
		res, body = do(http.MethodGet, "/binary", "", nil)
		if res.StatusCode != 200 || len(body) != 256 || body[255] != 255 {
			t.Errorf("binary response: got %d, %d bytes", res.StatusCode, len(body))
		}
	})

	t.Run("document without statusCode", func(t *testing.T) {
		res, body := do(http.MethodGet, "/raw", "", nil)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || string(body) != `{"plain":"document"}` {
			t.Errorf("got %d %q %s", res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	})

	t.Run("function error and crash", func(t *testing.T) {
		for _, path := range []string{"/error", "/crash"} {
			res, body := do(http.MethodGet, path, "", nil)
			if res.StatusCode != 500 || string(body) != `{"message":"Internal Server Error"}` {
				t.Errorf("%s: got %d %s, want 500 Internal Server Error", path, res.StatusCode, body)
			}
		}
		if res, _ := do(http.MethodGet, "/after-crash", "", nil); res.StatusCode != 201 {
			t.Errorf("after a crash: got %d, want 201", res.StatusCode)
		}
	})

	t.Run("integration timeout", func(t *testing.T) {
		// The gateway gives up after its 1 s; the function sleeps on to 1.3 s.
		res, body := do(http.MethodGet, "/sleep?ms=1300", "", nil)
		if res.StatusCode != 503 || string(body) != `{"message":"Service Unavailable"}` {
			t.Errorf("got %d %s, want 503 Service Unavailable", res.StatusCode, body)
		}
		// The function runs on, as on Lambda; the next request waits for its
		// instance, well within the gateway's timeout.
		if res, body := do(http.MethodGet, "/after-timeout", "", nil); res.StatusCode != 201 {
			t.Errorf("after a timeout: got %d %s, want 201", res.StatusCode, body)
		}
	})

	t.Run("ingest invoked directly", func(t *testing.T) {
		res, err := client.Post(s.IngestURL, "application/json", strings.NewReader(`{"mode":"ok"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var a okAnswer
		if err := json.NewDecoder(res.Body).Decode(&a); err != nil || !a.OK || a.Env["AWS_LAMBDA_FUNCTION_NAME"] != IngestFunction {
			t.Errorf("got %+v (%v), want the ingest function's answer", a, err)
		}
	})

	t.Run("seed a project", func(t *testing.T) {
		ctx := context.Background()
		token, err := s.SeedProject(ctx, "demo")
		if err != nil {
			t.Fatal(err)
		}
		if !herald.WellFormedToken(token) {
			t.Errorf("token %q is not well formed", token)
		}
		store := dynamo.New(dynamo.Deps{DB: s.DynamoDB(), Table: "herald-local"})
		project, err := store.ProjectForToken(ctx, herald.HashToken(token))
		if err != nil || project != "demo" {
			t.Errorf("project for the token: got %q %v, want demo", project, err)
		}
	})
}

// TestInvokeOnce runs a function once against a running stack, as make
// invoke does, and fails clearly when no stack runs.
func TestInvokeOnce(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{Functions: []string{}})
	dir := hostBuild(t, IngestFunction)
	ctx := context.Background()
	out, err := InvokeOnce(ctx, Options{HostBuild: dir, MotoURL: s.MotoURL, Logs: testLogs{t}}, IngestFunction, []byte(`{"mode":"ok"}`))
	if err != nil {
		t.Fatal(err)
	}
	var a okAnswer
	if err := json.Unmarshal(out, &a); err != nil {
		t.Fatal(err)
	}
	if a.Env["DELIVERY_QUEUE_URL"] != s.Resources.Queues["DeliveryQueue"].URL || a.Env["AWS_ENDPOINT_URL_SQS"] != s.MotoURL {
		t.Errorf("env: got queue %q endpoint %q, want the stack's", a.Env["DELIVERY_QUEUE_URL"], a.Env["AWS_ENDPOINT_URL_SQS"])
	}
	_, err = InvokeOnce(ctx, Options{HostBuild: dir, MotoURL: s.MotoURL}, IngestFunction, []byte(`{"mode":"error"}`))
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Kind != KindError {
		t.Errorf("function error: got %v, want a *FunctionError", err)
	}

	m := startTestMoto(t) // a moto without the stack's resources
	for name, url := range map[string]string{"nothing listening": "http://127.0.0.1:1", "empty moto": m.URL} {
		_, err := InvokeOnce(ctx, Options{HostBuild: dir, MotoURL: url}, IngestFunction, []byte(`{}`))
		if !errors.Is(err, ErrNotRunning) {
			t.Errorf("%s: got %v, want ErrNotRunning", name, err)
		}
	}
}

// TestStopLeavesNoProcess runs before the parallel tests start, so the
// test binary's only children are the stack's: none may outlive Stop, not
// even a bootstrap busy in an invocation.
func TestStopLeavesNoProcess(t *testing.T) {
	ctx := context.Background()
	record := filepath.Join(t.TempDir(), "record.jsonl")
	s, err := Start(ctx, Options{
		Functions: []string{"ApiFunction", DeliveryFunction},
		PoolSizes: map[string]int{"ApiFunction": 2, DeliveryFunction: 1},
		HostBuild: hostBuild(t, "ApiFunction", DeliveryFunction),
		ExtraEnv:  map[string]string{"TESTFN_RECORD": record},
		Logs:      testLogs{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := http.Get(s.APIURL + "/"); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
	}
	go func() {
		if res, err := http.Get(s.APIURL + "/sleep?ms=20000"); err == nil {
			res.Body.Close()
		}
	}()
	eventually(t, 10*time.Second, "both invocations recorded", func() bool { return len(readRecord(t, record)) == 2 })
	if n := len(childProcesses(os.Getpid())); n != 4 {
		t.Errorf("before Stop: %d child processes, want 4 (moto and three emulators)", n)
	}
	s.Stop()
	if left := childProcesses(os.Getpid()); len(left) != 0 {
		t.Errorf("after Stop: child processes %v remain", left)
	}
	for _, r := range readRecord(t, record) {
		if alive(r.PID) {
			t.Errorf("bootstrap %d outlived Stop", r.PID)
		}
	}
	s.Stop() // twice is harmless
}

// TestStartFailsCleanly: a missing bootstrap stops the start, and nothing
// it started (moto, here) is left running.
func TestStartFailsCleanly(t *testing.T) {
	_, err := Start(context.Background(), Options{Functions: []string{"ApiFunction"}, HostBuild: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "make host-build") {
		t.Errorf("got %v, want an error telling to run make host-build", err)
	}
	if left := childProcesses(os.Getpid()); len(left) != 0 {
		t.Errorf("child processes %v remain", left)
	}
}
