package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/herald"
)

// invokerFunc is a stand-in function for gateway tests that are about the
// translation, not the emulator.
type invokerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f invokerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

func testGateway(inv Invoker) *Gateway {
	return &Gateway{
		Invoker:      inv,
		AccountID:    motoAccount,
		Clock:        herald.ClockFunc(func() time.Time { return time.Date(2026, 11, 26, 9, 30, 15, 123e6, time.UTC) }),
		NewRequestID: func() string { return "KtGi1hRnIAMEbhQ=" },
	}
}

// TestGatewayEvent compares the events the gateway builds with golden files
// in testdata; go test -run TestGatewayEvent -update rewrites them.
func TestGatewayEvent(t *testing.T) {
	tests := map[string]func() *http.Request{
		"json-post": func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:3000/api/hooks%20x/?a=1&a=2&b=&c=%2F", strings.NewReader(`{"name":"hook"}`))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer hrld_test")
			r.Header.Set("User-Agent", "curl/8.0")
			r.Header.Add("X-Multi", "one")
			r.Header.Add("X-Multi", "two")
			r.Header.Add("Cookie", "c1=v1; c2=v2")
			r.Header.Add("Cookie", "c3=v3")
			return r
		},
		"binary-put": func() *http.Request {
			r := httptest.NewRequest(http.MethodPut, "http://127.0.0.1:3000/upload", bytes.NewReader([]byte{0, 1, 2, 0xff}))
			r.Header.Set("Content-Type", "application/octet-stream")
			return r
		},
		"form-post": func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "http://localhost:3000/login", strings.NewReader("user=a&pass=b"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		},
		"get": func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "http://127.0.0.1:3000/", nil)
		},
	}
	for name, newRequest := range tests {
		t.Run(name, func(t *testing.T) {
			var got []byte
			gw := testGateway(invokerFunc(func(_ context.Context, payload []byte) ([]byte, error) {
				got = payload
				return []byte(`{"statusCode":204}`), nil
			}))
			r := newRequest()
			r.RemoteAddr = "203.0.113.9:51234"
			gw.ServeHTTP(httptest.NewRecorder(), r)
			var indented bytes.Buffer
			if err := json.Indent(&indented, got, "", "  "); err != nil {
				t.Fatalf("event is not JSON: %v: %s", err, got)
			}
			indented.WriteByte('\n')
			golden := filepath.Join("testdata", "gateway", name+".json")
			if *update {
				if err := os.WriteFile(golden, indented.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(indented.Bytes(), want) {
				t.Errorf("event differs from %s:\ngot:\n%s\nwant:\n%s", golden, indented.Bytes(), want)
			}
		})
	}
}

// TestGatewayEventMatchesSAMShape checks the event has every field of the
// sample `sam local generate-event apigateway http-api-proxy` prints (kept in
// testdata), except those that need an authorizer, mTLS, stage variables or
// a route with path parameters.
func TestGatewayEventMatchesSAMShape(t *testing.T) {
	sample, err := os.ReadFile(filepath.Join("testdata", "gateway", "sam-http-api-proxy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	gw := testGateway(invokerFunc(func(_ context.Context, payload []byte) ([]byte, error) {
		got = payload
		return []byte(`{}`), nil
	}))
	r := httptest.NewRequest(http.MethodPost, "/p?q=1", strings.NewReader("x"))
	r.Header.Set("Cookie", "a=b")
	gw.ServeHTTP(httptest.NewRecorder(), r)
	notLocal := map[string]bool{
		"pathParameters": true, "stageVariables": true,
		"requestContext.authentication": true, "requestContext.authorizer": true,
	}
	var want, have map[string]any
	if err := json.Unmarshal(sample, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &have); err != nil {
		t.Fatal(err)
	}
	var missing []string
	var walk func(prefix string, want, have map[string]any)
	walk = func(prefix string, want, have map[string]any) {
		for k, v := range want {
			path := prefix + k
			if notLocal[path] {
				continue
			}
			hv, ok := have[k]
			if !ok {
				missing = append(missing, path)
				continue
			}
			if wm, ok := v.(map[string]any); ok && path != "headers" && path != "queryStringParameters" {
				hm, _ := hv.(map[string]any)
				walk(path+".", wm, hm)
			}
		}
	}
	walk("", want, have)
	if len(missing) > 0 {
		t.Errorf("fields of SAM's sample missing from the event: %v", missing)
	}
}

func TestGatewayResponses(t *testing.T) {
	tests := map[string]struct {
		answer     string
		err        error
		wantStatus int
		wantHeader map[string][]string
		wantBody   string
	}{
		"structured": {
			answer:     `{"statusCode":201,"headers":{"Content-Type":"application/json","X-One":"1"},"cookies":["a=1; Path=/","b=2"],"body":"{\"ok\":true}"}`,
			wantStatus: 201,
			wantHeader: map[string][]string{"Content-Type": {"application/json"}, "X-One": {"1"}, "Set-Cookie": {"a=1; Path=/", "b=2"}, "Apigw-Requestid": {"KtGi1hRnIAMEbhQ="}},
			wantBody:   `{"ok":true}`,
		},
		"base64 body": {
			answer:     `{"statusCode":200,"headers":{"content-type":"image/png"},"body":"AAEC/w==","isBase64Encoded":true}`,
			wantStatus: 200,
			wantHeader: map[string][]string{"Content-Type": {"image/png"}},
			wantBody:   "\x00\x01\x02\xff",
		},
		"no content type stays without one": {
			answer:     `{"statusCode":200,"body":"<p>hi</p>"}`,
			wantStatus: 200,
			wantHeader: map[string][]string{"Content-Type": nil},
			wantBody:   "<p>hi</p>",
		},
		"document without statusCode": {
			answer:     `{"plain":"document"}`,
			wantStatus: 200,
			wantHeader: map[string][]string{"Content-Type": {"application/json"}},
			wantBody:   `{"plain":"document"}`,
		},
		"not JSON": {
			answer:     `oops`,
			wantStatus: 500,
			wantBody:   `{"message":"Internal Server Error"}`,
		},
		"bad base64": {
			answer:     `{"statusCode":200,"body":"***","isBase64Encoded":true}`,
			wantStatus: 500,
			wantBody:   `{"message":"Internal Server Error"}`,
		},
		"function error": {
			answer:     `{"errorMessage":"boom","errorType":"x"}`,
			err:        &FunctionError{Kind: KindError, Type: "x", Message: "boom"},
			wantStatus: 500,
			wantHeader: map[string][]string{"Content-Type": {"application/json"}, "Apigw-Requestid": {"KtGi1hRnIAMEbhQ="}},
			wantBody:   `{"message":"Internal Server Error"}`,
		},
		"crash": {
			err:        &FunctionError{Kind: KindCrash, Type: "Runtime.ExitError"},
			wantStatus: 500,
			wantBody:   `{"message":"Internal Server Error"}`,
		},
		"emulator unreachable": {
			err:        errors.New("connection refused"),
			wantStatus: 500,
			wantBody:   `{"message":"Internal Server Error"}`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			gw := testGateway(invokerFunc(func(context.Context, []byte) ([]byte, error) {
				return []byte(tt.answer), tt.err
			}))
			rec := httptest.NewRecorder()
			gw.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			checkResponse(t, rec.Result(), tt.wantStatus, tt.wantHeader, tt.wantBody)
		})
	}
}

func checkResponse(t *testing.T, res *http.Response, status int, header map[string][]string, body string) {
	t.Helper()
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode != status {
		t.Errorf("status: got %d, want %d (body %s)", res.StatusCode, status, got)
	}
	for k, want := range header {
		if g := res.Header.Values(k); strings.Join(g, "|") != strings.Join(want, "|") {
			t.Errorf("header %s: got %q, want %q", k, g, want)
		}
	}
	if string(got) != body {
		t.Errorf("body: got %q, want %q", got, body)
	}
}

func TestGatewayLimits(t *testing.T) {
	t.Run("a body over 10 MB is refused", func(t *testing.T) {
		invoked := false
		gw := testGateway(invokerFunc(func(context.Context, []byte) ([]byte, error) {
			invoked = true
			return []byte(`{"statusCode":200}`), nil
		}))
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(make([]byte, 10<<20+1))))
		checkResponse(t, rec.Result(), 413, nil, `{"message":"Request Entity Too Large"}`)
		if invoked {
			t.Error("the function was invoked")
		}
	})
	t.Run("a body of 10 MB passes", func(t *testing.T) {
		var size int
		gw := testGateway(invokerFunc(func(_ context.Context, payload []byte) ([]byte, error) {
			var ev struct{ Body string }
			_ = json.Unmarshal(payload, &ev)
			size = len(ev.Body)
			return []byte(`{"statusCode":200}`), nil
		}))
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(make([]byte, 10<<20))))
		checkResponse(t, rec.Result(), 200, nil, "")
		if want := (10<<20 + 2) / 3 * 4; size != want {
			t.Errorf("base64 body length: got %d, want %d", size, want)
		}
	})
	t.Run("the integration times out", func(t *testing.T) {
		gw := testGateway(invokerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}))
		gw.Timeout = 50 * time.Millisecond
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		checkResponse(t, rec.Result(), 503, nil, `{"message":"Service Unavailable"}`)
	})
	if IntegrationTimeout != 30*time.Second || MaxRequestBody != 10<<20 {
		t.Errorf("limits: got %s and %d bytes, want API Gateway's 30s and 10 MB", IntegrationTimeout, MaxRequestBody)
	}
}
