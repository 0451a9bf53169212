package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"

	"github.com/heraldhq/herald/shared/guard"
	"github.com/heraldhq/herald/shared/herald"
)

// apiError is one entry of a DatoCMS error document.
type apiError struct {
	ID         string             `json:"id"`
	Type       string             `json:"type"`
	Attributes apiErrorAttributes `json:"attributes"`
}

type apiErrorAttributes struct {
	Code      string         `json:"code"`
	Details   map[string]any `json:"details"`
	Transient bool           `json:"transient"`
}

// errorStatus maps Herald's error codes to an HTTP status, a DatoCMS error
// code and whether a client should retry. This is the only place that does.
var errorStatus = map[string]struct {
	status    int
	code      string
	transient bool
}{
	herald.EINVALID:      {http.StatusUnprocessableEntity, "INVALID_FIELD", false},
	herald.EFORMAT:       {http.StatusUnprocessableEntity, "INVALID_FORMAT", false},
	herald.ENOTFOUND:     {http.StatusNotFound, "NOT_FOUND", false},
	herald.EUNAUTHORIZED: {http.StatusUnauthorized, "INVALID_AUTHORIZATION_HEADER", false},
	herald.ETOOLARGE:     {http.StatusRequestEntityTooLarge, "REQUEST_BODY_TOO_LARGE", false},
	herald.EBADJSON:      {http.StatusBadRequest, "INVALID_JSON_BODY", false},
	herald.EUNSUPPORTED:  {http.StatusUnsupportedMediaType, "INVALID_CONTENT_TYPE_HEADER", false},
	herald.ECONFLICT:     {http.StatusConflict, "CONCURRENT_WEBHOOK_UPDATE", true},
	herald.ETHROTTLED:    {http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED", true},
	herald.EINTERNAL:     {http.StatusInternalServerError, "INTERNAL_ERROR", false},
}

// writeError answers with err as a DatoCMS error document: one api_error per
// field problem for EINVALID, one otherwise. Internal errors are logged and
// answered without their text.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := herald.ErrorCode(err)
	m, ok := errorStatus[code]
	if !ok {
		m = errorStatus[herald.EINTERNAL]
	}
	var errs []apiError
	if problems := herald.ErrorProblems(err); code == herald.EINVALID && len(problems) > 0 {
		for _, p := range problems {
			errs = append(errs, newAPIError(m.code, m.transient, map[string]any{
				"field": p.Field, "code": p.Code, "message": p.Message,
			}))
		}
	} else {
		details := map[string]any{"message": herald.ErrorMessage(err)}
		if m.status == http.StatusInternalServerError {
			attrs := []any{"method", r.Method, "path", r.URL.Path, "error", err}
			if pe := (*guard.PanicError)(nil); errors.As(err, &pe) {
				attrs = append(attrs, "stack", string(pe.Stack))
			}
			s.log.ErrorContext(r.Context(), "request failed", attrs...)
		}
		errs = append(errs, newAPIError(m.code, m.transient, details))
	}
	if m.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("X-RateLimit-Reset", "1") // what the DatoCMS client waits on
	}
	writeJSON(w, m.status, map[string]any{"data": errs})
}

func newAPIError(code string, transient bool, details map[string]any) apiError {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return apiError{
		ID:         hex.EncodeToString(b[:]),
		Type:       "api_error",
		Attributes: apiErrorAttributes{Code: code, Details: details, Transient: transient},
	}
}

// logLevelFor keeps 4xx answers at info and 5xx at error in request logs.
func logLevelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}
