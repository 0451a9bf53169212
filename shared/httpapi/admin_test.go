package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/heraldhq/herald/shared/herald"
)

// memTokens is a TokenStore over a map, for tests that need no storage
// beyond authentication.
type memTokens map[string]string // token hash -> project

func (m memTokens) ProjectForToken(_ context.Context, hash string) (string, error) {
	if p, ok := m[hash]; ok {
		return p, nil
	}
	return "", herald.Errorf(herald.EUNAUTHORIZED, "unknown token")
}

var adminTestNow = time.Date(2026, 11, 26, 10, 54, 9, 0, time.UTC)

// newPageServer is a Server that can authenticate one token, for project
// "205"; the page and the preview need nothing else.
func newPageServer(t *testing.T) (*Server, string) {
	t.Helper()
	token := herald.NewToken()
	s := New(Deps{
		Tokens: memTokens{herald.HashToken(token): "205"},
		Clock:  herald.ClockFunc(func() time.Time { return adminTestNow }),
		Log:    slog.New(slog.DiscardHandler),
	})
	return s, token
}

func TestAdminPageFiles(t *testing.T) {
	s, _ := newPageServer(t)
	tests := map[string]struct {
		method, path string
		header       map[string]string
		wantStatus   int
		wantType     string
		wantBody     string // a substring
		wantHeader   map[string]string
	}{
		"root is the page":           {method: "GET", path: "/", wantStatus: 200, wantType: "text/html; charset=utf-8", wantBody: `src="admin/app.js"`},
		"admin is the page":          {method: "GET", path: "/admin", wantStatus: 200, wantType: "text/html; charset=utf-8", wantBody: `<main id="main"`},
		"module":                     {method: "GET", path: "/admin/app.js", wantStatus: 200, wantType: "text/javascript; charset=utf-8", wantBody: "import"},
		"stylesheet":                 {method: "GET", path: "/admin/style.css", wantStatus: 200, wantType: "text/css; charset=utf-8", wantBody: ":root"},
		"icon":                       {method: "GET", path: "/admin/favicon.svg", wantStatus: 200, wantType: "image/svg+xml", wantBody: "<svg"},
		"domain types":               {method: "GET", path: "/admin/types.json", wantStatus: 200, wantType: "application/json; charset=utf-8", wantBody: `"entity_types"`},
		"head has no body":           {method: "HEAD", path: "/admin", wantStatus: 200, wantType: "text/html; charset=utf-8"},
		"trailing slash redirects":   {method: "GET", path: "/admin/", wantStatus: 301, wantHeader: map[string]string{"Location": "../admin"}},
		"unknown file is not found":  {method: "GET", path: "/admin/nope.js", wantStatus: 404, wantType: "application/json; charset=utf-8"},
		"the page is read only":      {method: "POST", path: "/admin", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		"a token is not needed":      {method: "GET", path: "/admin/api.js", header: map[string]string{"Authorization": "Bearer nonsense"}, wantStatus: 200},
		"index.html is not its name": {method: "GET", path: "/admin/index.html", wantStatus: 404},
		"security headers": {method: "GET", path: "/", wantStatus: 200, wantHeader: map[string]string{
			"Content-Security-Policy": adminSecurityHeaders["Content-Security-Policy"],
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Cache-Control":           "no-cache",
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("%s %s: got status %d, want %d; body %q", tc.method, tc.path, rec.Code, tc.wantStatus, rec.Body.String())
			}
			if tc.wantType != "" {
				if got := rec.Header().Get("Content-Type"); got != tc.wantType {
					t.Errorf("got Content-Type %q, want %q", got, tc.wantType)
				}
			}
			if !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("got body %.200q, want it to contain %q", rec.Body.String(), tc.wantBody)
			}
			if tc.method == "HEAD" && rec.Body.Len() != 0 {
				t.Errorf("HEAD: got a %d-byte body, want none", rec.Body.Len())
			}
			for k, want := range tc.wantHeader {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("got %s %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestAdminPolicyIsSelfOnly(t *testing.T) {
	csp := adminSecurityHeaders["Content-Security-Policy"]
	for _, directive := range strings.Split(csp, ";") {
		fields := strings.Fields(directive)
		if len(fields) == 0 {
			t.Fatalf("empty directive in %q", csp)
		}
		for _, source := range fields[1:] {
			if source != "'self'" && source != "'none'" {
				t.Errorf("directive %q allows %s; want only 'self' or 'none'", fields[0], source)
			}
		}
	}
	if !strings.HasPrefix(csp, "default-src 'none'") {
		t.Errorf("got %q, want it to start from default-src 'none'", csp)
	}
}

func TestAdminFilesRevalidate(t *testing.T) {
	s, _ := newPageServer(t)
	first := httptest.NewRecorder()
	s.ServeHTTP(first, httptest.NewRequest("GET", "/admin/app.js", nil))
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("got no ETag")
	}
	req := httptest.NewRequest("GET", "/admin/app.js", nil)
	req.Header.Set("If-None-Match", etag)
	again := httptest.NewRecorder()
	s.ServeHTTP(again, req)
	if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
		t.Errorf("got %d with %d bytes, want 304 and no body", again.Code, again.Body.Len())
	}
}

// TestAdminFilesAreComplete checks that every file the page names, in
// index.html and in each module's imports, is served: a typo would
// otherwise show only as a blank page.
func TestAdminFilesAreComplete(t *testing.T) {
	site, err := newAdminSite()
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`(?:src|href)="(admin/[^"]+)"`).FindAllStringSubmatch(string(site["/"].body), -1)
	if len(refs) < 3 {
		t.Fatalf("got %d references in index.html, want the icon, the stylesheet and the app", len(refs))
	}
	for _, m := range refs {
		if site["/"+m[1]] == nil {
			t.Errorf("index.html names %s, which is not served", m[1])
		}
	}
	imports := regexp.MustCompile(`(?m)^import [^;]*? from '\./([^']+)';|new URL\('\./([^']+)', import\.meta\.url\)`)
	modules := 0
	for p, a := range site {
		if !strings.HasSuffix(p, ".js") {
			continue
		}
		modules++
		for _, m := range imports.FindAllStringSubmatch(string(a.body), -1) {
			name := m[1] + m[2]
			if site["/admin/"+name] == nil {
				t.Errorf("%s imports %s, which is not served", p, name)
			}
		}
	}
	if modules < 5 {
		t.Errorf("got %d modules, want the page's modules", modules)
	}
}

func TestAdminTypesMatchDomain(t *testing.T) {
	s, _ := newPageServer(t)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/admin/types.json", nil))
	var got struct {
		EntityTypes []struct {
			Type        string   `json:"type"`
			EventTypes  []string `json:"event_types"`
			FilterTypes []string `json:"filter_types"`
		} `json:"entity_types"`
		Statuses []string `json:"statuses"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("decode types.json: %v", err)
	}
	if len(got.EntityTypes) != len(herald.EntityTypes()) {
		t.Fatalf("got %d entity types, want %d", len(got.EntityTypes), len(herald.EntityTypes()))
	}
	for i, e := range got.EntityTypes {
		if want := herald.EntityTypes()[i]; e.Type != want {
			t.Errorf("entity %d: got %q, want %q", i, e.Type, want)
		}
		if !slices.Equal(e.EventTypes, herald.EventTypes(e.Type)) {
			t.Errorf("%s: got events %v, want %v", e.Type, e.EventTypes, herald.EventTypes(e.Type))
		}
		if want := herald.FilterTypes(e.Type); !slices.Equal(e.FilterTypes, want) && len(want)+len(e.FilterTypes) > 0 {
			t.Errorf("%s: got filters %v, want %v", e.Type, e.FilterTypes, want)
		}
	}
	if want := []string{"pending", "success", "failed", "rescheduled"}; !slices.Equal(got.Statuses, want) {
		t.Errorf("got statuses %v, want %v", got.Statuses, want)
	}
}

// TestAdminPageThroughLambda serves the page the way API Gateway gets it:
// text files as text, not base64, with their headers.
func TestAdminPageThroughLambda(t *testing.T) {
	s, _ := newPageServer(t)
	l := &Lambda{Handler: s}
	for _, p := range []string{"/", "/admin", "/admin/app.js", "/admin/style.css", "/admin/favicon.svg", "/admin/types.json"} {
		ev := events.APIGatewayV2HTTPRequest{RawPath: p, Headers: map[string]string{"host": "abc.execute-api.us-east-1.amazonaws.com"}}
		ev.RequestContext.HTTP.Method = "GET"
		ev.RequestContext.HTTP.Path = p
		res, err := l.Handle(context.Background(), ev)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if res.StatusCode != 200 || res.IsBase64Encoded {
			t.Errorf("%s: got status %d, base64 %v; want 200 as text", p, res.StatusCode, res.IsBase64Encoded)
		}
		direct := httptest.NewRecorder()
		s.ServeHTTP(direct, httptest.NewRequest("GET", p, nil))
		if res.Body != direct.Body.String() {
			t.Errorf("%s: the Lambda body differs from the direct one", p)
		}
		if res.Headers["Content-Security-Policy"] == "" || res.Headers["Content-Type"] != direct.Header().Get("Content-Type") {
			t.Errorf("%s: got headers %v, want the CSP and %q", p, res.Headers, direct.Header().Get("Content-Type"))
		}
	}
}

// A binary file would go out as base64; none of the page's files is one,
// and this keeps it that way: each file's type is one isText accepts.
func TestAdminFilesAreText(t *testing.T) {
	site, err := newAdminSite()
	if err != nil {
		t.Fatal(err)
	}
	for p, a := range site {
		if !isText(a.contentType) {
			t.Errorf("%s: %s would be sent base64-encoded", p, a.contentType)
		}
	}
}
