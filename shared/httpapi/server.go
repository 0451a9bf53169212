package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/shared/guard"
	"github.com/heraldhq/herald/shared/herald"
)

// WebhookStore is what the API needs of webhook storage.
type WebhookStore interface {
	ListWebhooks(ctx context.Context, project string) ([]*herald.Webhook, error)
	GetWebhook(ctx context.Context, project, id string) (*herald.Webhook, error)
	CreateWebhook(ctx context.Context, w *herald.Webhook) error
	UpdateWebhook(ctx context.Context, old, updated *herald.Webhook) error
	DeleteWebhook(ctx context.Context, w *herald.Webhook) error
}

// TokenStore resolves a token's hash to its project.
type TokenStore interface {
	ProjectForToken(ctx context.Context, hash string) (string, error)
}

// Server serves the API. Build it with New.
type Server struct {
	webhooks  WebhookStore
	calls     CallStore
	queue     Queue
	tokens    TokenStore
	clock     herald.Clock
	log       *slog.Logger
	newSecret func() string
	routes    []route
	// Endpoint health (health.go).
	health        HealthStore
	retention     time.Duration
	maxBulkResend int

	tokenCache sync.Map // token hash -> cachedProject
}

// Deps are a Server's dependencies.
type Deps struct {
	Webhooks  WebhookStore
	Calls     CallStore
	Queue     Queue
	Tokens    TokenStore
	Clock     herald.Clock
	Log       *slog.Logger
	NewSecret func() string // a fresh signing secret for each new webhook
	// Health serves webhooks' health, test sends and bulk resends; without
	// it, webhooks are shown without health and those routes fail.
	Health HealthStore
	// Retention is how long calls are kept (the test sends the API
	// creates): the functions' CALL_RETENTION_DAYS, 30 days if 0.
	Retention time.Duration
	// MaxBulkResend bounds the calls one bulk resend takes;
	// herald.MaxBulkResend if 0.
	MaxBulkResend int
}

// TokenCacheTTL bounds how long a token stays accepted after it is revoked
// (deleted from the table); it saves one read per request on a warm
// function. herald-token and docs/operations.md tell operators so.
const TokenCacheTTL = 30 * time.Second

type cachedProject struct {
	project string
	until   time.Time
}

// New returns a Server.
func New(d Deps) *Server {
	s := &Server{webhooks: d.Webhooks, calls: d.Calls, queue: d.Queue, tokens: d.Tokens, clock: d.Clock, log: d.Log, newSecret: d.NewSecret,
		health: d.Health, retention: d.Retention, maxBulkResend: d.MaxBulkResend}
	if s.retention == 0 {
		s.retention = 30 * 24 * time.Hour
	}
	if s.maxBulkResend == 0 {
		s.maxBulkResend = herald.MaxBulkResend
	}
	s.routes = []route{
		{"GET", "/webhooks", s.listWebhooks},
		{"POST", "/webhooks", s.createWebhook},
		{"GET", "/webhooks/{id}", s.getWebhook},
		{"PUT", "/webhooks/{id}", s.updateWebhook},
		{"PATCH", "/webhooks/{id}", s.updateWebhook},
		{"DELETE", "/webhooks/{id}", s.deleteWebhook},
		{"GET", "/webhooks/{id}/secret", s.getSecret},
		{"POST", "/webhooks/{id}/secret/rotate", s.rotateSecret},
		{"POST", "/webhooks/{id}/ping", s.pingWebhook},
		{"GET", "/webhook_calls", s.listCalls},
		{"POST", "/webhook_calls/bulk_resend", s.bulkResend},
		{"GET", "/webhook_calls/{id}", s.getCall},
		{"POST", "/webhook_calls/{id}/resend_webhook", s.resendCall},
		{"POST", "/webhook_payload_preview", s.previewWebhookPayload},
	}
	return s
}

// handlerFunc is an authenticated API handler: project is the token's.
type handlerFunc func(w http.ResponseWriter, r *http.Request, project string, params map[string]string) error

type route struct {
	method  string
	pattern string
	handle  handlerFunc
}

// ServeHTTP routes, authenticates, handles, and logs one line per request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	var pattern, project string
	func() {
		// A panic in the request's own goroutine is an internal error
		// like any other: answered, logged, and the instance serves on.
		// (Goroutines a request starts run through guard.Func, which
		// returns theirs as errors.)
		var err error
		defer func() {
			if err != nil {
				s.writeError(rec, r, err)
			}
		}()
		defer guard.Recover(&err)
		pattern, project = s.serve(rec, r)
	}()
	s.log.Log(r.Context(), logLevelFor(rec.status), "request",
		"method", r.Method, "route", pattern, "status", rec.status,
		"project", project, "duration_ms", time.Since(start).Milliseconds())
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) (pattern, project string) {
	if isAdminPath(r.URL.Path) {
		site, err := loadAdminSite()
		if err != nil {
			s.writeError(w, r, err)
			return "/admin/*", ""
		}
		if pattern, ok := site.serve(w, r); ok {
			return pattern, ""
		}
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	var allowed []string
	for _, rt := range s.routes {
		params, ok := matchPath(rt.pattern, path)
		if !ok {
			continue
		}
		if rt.method != r.Method {
			allowed = append(allowed, rt.method)
			continue
		}
		project, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return rt.pattern, ""
		}
		// Every id in a path is a ULID Herald made; anything else (a '#'
		// decoded from %23, a lower-cased id) names nothing, and never
		// reaches a key.
		if id, ok := params["id"]; ok && !herald.IsID(id) {
			s.writeError(w, r, herald.Errorf(herald.ENOTFOUND, "%s not found", resourceName(rt.pattern)))
			return rt.pattern, project
		}
		if err := rt.handle(w, r, project, params); err != nil {
			s.writeError(w, r, err)
		}
		return rt.pattern, project
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"data": []apiError{
			newAPIError("INVALID_ENDPOINT", false, map[string]any{"message": r.Method + " is not allowed here"}),
		}})
		return "", ""
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"data": []apiError{
		newAPIError("INVALID_ENDPOINT", false, map[string]any{"message": "no such endpoint"}),
	}})
	return "", ""
}

// authenticate returns the project of the request's Bearer token.
func (s *Server) authenticate(r *http.Request) (string, error) {
	// The scheme is case-insensitive (RFC 9110 §11.1); the token is not.
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || !herald.WellFormedToken(token) {
		return "", herald.Errorf(herald.EUNAUTHORIZED, "an Authorization: Bearer <API token> header is required")
	}
	hash := herald.HashToken(token)
	now := s.clock.Now()
	if c, ok := s.tokenCache.Load(hash); ok && now.Before(c.(cachedProject).until) {
		return c.(cachedProject).project, nil
	}
	project, err := s.tokens.ProjectForToken(r.Context(), hash)
	if err != nil {
		return "", err
	}
	s.tokenCache.Store(hash, cachedProject{project, now.Add(TokenCacheTTL)})
	return project, nil
}

// resourceName names what a route's {id} refers to, for a 404.
func resourceName(pattern string) string {
	if strings.HasPrefix(pattern, "/webhook_calls/") {
		return "webhook call"
	}
	return "webhook"
}

// matchPath matches a path against a pattern whose {name} segments capture
// one non-empty segment each.
func matchPath(pattern, path string) (map[string]string, bool) {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	xs := strings.Split(strings.Trim(path, "/"), "/")
	if len(ps) != len(xs) {
		return nil, false
	}
	var params map[string]string
	for i, p := range ps {
		if name, ok := strings.CutPrefix(p, "{"); ok {
			if xs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[strings.TrimSuffix(name, "}")] = xs[i]
			continue
		}
		if p != xs[i] {
			return nil, false
		}
	}
	return params, true
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}
