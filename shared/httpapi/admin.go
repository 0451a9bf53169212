package httpapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/shared/herald"
)

// The admin page is plain HTML, CSS and JavaScript modules, embedded in the
// API function so that it needs no hosting, no build step and nothing from
// the internet. The files are public; everything they show comes from the
// API with the token the user signs in with.
//
//go:embed admin
var adminFiles embed.FS

// adminSecurityHeaders go on every admin file. The policy allows this
// origin's scripts, styles and API, and nothing inline: the page puts all
// data into the DOM as text, and the policy stops whatever slips through.
var adminSecurityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
		"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options":       "nosniff",
	"X-Frame-Options":              "DENY",
	"Referrer-Policy":              "no-referrer",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
	// Revalidate every time (the ETag makes that cheap), so a deploy is
	// seen at the next load and no old module mixes with a new one.
	"Cache-Control": "no-cache",
}

// adminTypes lists the content types of the files the page is made of; a
// file of any other kind is not served.
var adminTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".json": "application/json; charset=utf-8",
}

// adminAsset is one file of the page, ready to serve.
type adminAsset struct {
	name        string
	contentType string
	etag        string
	body        []byte
}

// adminSite is the page's files by URL path.
type adminSite map[string]*adminAsset

// loadAdminSite reads the page once per process. It fails only if the
// embedded files are broken, which the package's tests would have caught.
var loadAdminSite = sync.OnceValues(newAdminSite)

// newAdminSite reads the embedded files, adds types.json (the domain's
// entity, event and filter types, so the page never keeps its own copy), and
// maps / and /admin to index.html.
func newAdminSite() (adminSite, error) {
	site := adminSite{}
	err := fs.WalkDir(adminFiles, "admin", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := adminFiles.ReadFile(name)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		a, err := newAdminAsset(name, body)
		if err != nil {
			return err
		}
		site["/"+name] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load admin page: %w", err)
	}
	types, err := json.Marshal(domainTypes())
	if err != nil {
		return nil, fmt.Errorf("encode admin types: %w", err)
	}
	if site["/admin/types.json"], err = newAdminAsset("admin/types.json", types); err != nil {
		return nil, err
	}
	index, ok := site["/admin/index.html"]
	if !ok {
		return nil, fmt.Errorf("load admin page: admin/index.html is missing")
	}
	site["/"], site["/admin"] = index, index
	delete(site, "/admin/index.html")
	return site, nil
}

func newAdminAsset(name string, body []byte) (*adminAsset, error) {
	ct, ok := adminTypes[path.Ext(name)]
	if !ok {
		return nil, fmt.Errorf("load admin page: %s: no content type for %q files", name, path.Ext(name))
	}
	sum := sha256.Sum256(body)
	return &adminAsset{name: name, contentType: ct, body: body,
		etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}, nil
}

// serve answers a request for one of the page's files, and reports whether
// the path was one. /admin/ redirects to /admin: index.html names its files
// relative to itself, which works from / and /admin, and under an API
// Gateway stage prefix too.
func (site adminSite) serve(w http.ResponseWriter, r *http.Request) (pattern string, ok bool) {
	p := r.URL.Path
	if p == "/admin/" {
		w.Header().Set("Location", "../admin")
		w.WriteHeader(http.StatusMovedPermanently)
		return "/admin/", true
	}
	a, ok := site[p]
	if !ok {
		return "", false
	}
	pattern = "/admin/*"
	if p == "/" || p == "/admin" {
		pattern = p
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"data": []apiError{
			newAPIError("INVALID_ENDPOINT", false, map[string]any{"message": r.Method + " is not allowed here"}),
		}})
		return pattern, true
	}
	h := w.Header()
	for k, v := range adminSecurityHeaders {
		h.Set(k, v)
	}
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	// ServeContent answers HEAD, If-None-Match (304) and ranges.
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
	return pattern, true
}

// domainTypes is herald's table of entity types, their event types and the
// filters that can hold for them, as the page's trigger builder and
// activity-log filters read it.
func domainTypes() map[string]any {
	type entity struct {
		Type        string   `json:"type"`
		EventTypes  []string `json:"event_types"`
		FilterTypes []string `json:"filter_types"`
	}
	entities := []entity{}
	for _, t := range herald.EntityTypes() {
		filters := herald.FilterTypes(t)
		if filters == nil {
			filters = []string{}
		}
		entities = append(entities, entity{Type: t, EventTypes: herald.EventTypes(t), FilterTypes: filters})
	}
	statuses := []string{}
	for _, s := range herald.Statuses() {
		statuses = append(statuses, string(s))
	}
	return map[string]any{
		"entity_types":      entities,
		"filter_types":      herald.AllFilterTypes(),
		"environment_types": []string{herald.EnvironmentPrimary, herald.EnvironmentSandbox},
		"statuses":          statuses,
		"retry_delays_s":    retryDelaySeconds(),
		"max_call_limit":    herald.MaxCallLimit,
	}
}

func retryDelaySeconds() []int64 {
	var out []int64
	for _, d := range herald.RetryDelays {
		out = append(out, int64(d/time.Second))
	}
	return out
}

// isAdminPath reports whether a path is the page's, so that unknown files
// under /admin are 404s of the page rather than API endpoints.
func isAdminPath(p string) bool {
	return p == "/" || p == "/admin" || strings.HasPrefix(p, "/admin/")
}
