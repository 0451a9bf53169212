package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/heraldhq/herald/shared/httpapi"
)

// TestLambdaAdapterWithSampleEvents runs every API Gateway event in events/api
// through the adapter and checks that the handler sees what the event says.
func TestLambdaAdapterWithSampleEvents(t *testing.T) {
	files, _ := filepath.Glob("../../events/api/*.json")
	if len(files) < 8 {
		t.Fatalf("found %d sample API events; want one per route", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			var seen struct{ method, path, query, body, auth string }
			l := &httpapi.Lambda{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				seen.method, seen.path, seen.query, seen.body, seen.auth = r.Method, r.URL.Path, r.URL.RawQuery, string(b), r.Header.Get("Authorization")
				w.Header().Set("Content-Type", "application/json")
				w.Header().Add("Set-Cookie", "a=1")
				_, _ = w.Write([]byte(`{"ok":true}`))
			})}
			res, err := l.Handle(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			wantBody := ev.Body
			if ev.IsBase64Encoded {
				b, _ := base64.StdEncoding.DecodeString(ev.Body)
				wantBody = string(b)
			}
			if seen.method != ev.RequestContext.HTTP.Method || seen.path != ev.RawPath || seen.query != ev.RawQueryString || seen.body != wantBody {
				t.Errorf("handler saw %+v", seen)
			}
			if !strings.HasPrefix(seen.auth, "Bearer hrld_") {
				t.Errorf("authorization %q", seen.auth)
			}
			if res.StatusCode != 200 || res.Body != `{"ok":true}` || res.IsBase64Encoded || res.Headers["Content-Type"] != "application/json" || len(res.Cookies) != 1 {
				t.Errorf("response %+v", res)
			}
		})
	}
}

func TestLambdaAdapterBinaryBody(t *testing.T) {
	l := &httpapi.Lambda{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write([]byte{0x89, 'P', 'N', 'G', 0})
	})}
	res, err := l.Handle(context.Background(), events.APIGatewayV2HTTPRequest{RawPath: "/x",
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsBase64Encoded || res.Body != base64.StdEncoding.EncodeToString([]byte{0x89, 'P', 'N', 'G', 0}) {
		t.Errorf("binary response %+v", res)
	}
}
