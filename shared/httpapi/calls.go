package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/shared/herald"
)

// CallStore is what the API needs of call storage.
type CallStore interface {
	GetCall(ctx context.Context, project, id string) (*herald.Call, error)
	ListCalls(ctx context.Context, project string, q herald.CallQuery) ([]*herald.Call, int, error)
	RequestResend(ctx context.Context, project, id, resendID string) (bool, error)
}

// Queue is what the API needs of the delivery queue: resends go through it,
// so the API function itself never connects to a receiver.
type Queue interface {
	Send(ctx context.Context, job herald.Job, delay time.Duration) error
	SendAll(ctx context.Context, jobs []herald.Job) error
}

// callResource is a call as the API shows it.
type callResource struct {
	ID            string         `json:"id"`
	Type          string         `json:"type"`
	Attributes    callAttributes `json:"attributes"`
	Relationships struct {
		Webhook struct {
			Data resourceID `json:"data"`
		} `json:"webhook"`
	} `json:"relationships"`
}

type resourceID struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// attemptJSON is one attempt as the API shows it.
type attemptJSON struct {
	Number         int     `json:"number"`
	Trigger        string  `json:"trigger"`
	StartedAt      apiTime `json:"started_at"`
	DurationMS     int64   `json:"duration_ms"`
	Success        bool    `json:"success"`
	ResponseStatus *int    `json:"response_status"`
	ErrorKind      string  `json:"error_kind,omitempty"`
	Error          string  `json:"error,omitempty"`
}

// callAttributes are DatoCMS's, plus Herald's own after them.
type callAttributes struct {
	EntityType                string            `json:"entity_type"`
	EventType                 string            `json:"event_type"`
	CreatedAt                 apiTime           `json:"created_at"`
	RequestURL                string            `json:"request_url"`
	RequestHeaders            map[string]string `json:"request_headers"`
	RequestPayload            string            `json:"request_payload"`
	ResponseStatus            *int              `json:"response_status"`
	ResponseHeaders           map[string]string `json:"response_headers"`
	ResponsePayload           *string           `json:"response_payload"`
	AttemptedAutoRetriesCount int               `json:"attempted_auto_retries_count"`
	LastSentAt                *apiTime          `json:"last_sent_at"`
	NextRetryAt               *apiTime          `json:"next_retry_at"`
	Status                    herald.Status     `json:"status"`

	EventID                  string        `json:"event_id"`
	RequestPayloadTruncated  bool          `json:"request_payload_truncated"`
	ResponsePayloadTruncated bool          `json:"response_payload_truncated"`
	Attempts                 []attemptJSON `json:"attempts"`
	ResendPending            bool          `json:"resend_pending"`
}

func callJSON(c *herald.Call) callResource {
	r := callResource{ID: c.ID, Type: "webhook_call", Attributes: callAttributes{
		EntityType: c.EntityType, EventType: c.EventType, CreatedAt: apiTime(c.CreatedAt),
		RequestURL: c.RequestURL, RequestHeaders: c.RequestHeaders, RequestPayload: c.RequestPayload,
		ResponseStatus: c.ResponseStatus, ResponseHeaders: c.ResponseHeaders, ResponsePayload: c.ResponsePayload,
		AttemptedAutoRetriesCount: c.AttemptedAutoRetries, LastSentAt: optTime(c.LastSentAt), NextRetryAt: optTime(c.NextRetryAt),
		Status: c.Status, EventID: c.EventID,
		RequestPayloadTruncated: c.RequestPayloadTruncated, ResponsePayloadTruncated: c.ResponsePayloadTruncated,
		Attempts: make([]attemptJSON, len(c.Attempts)), ResendPending: c.ResendID != "",
	}}
	for i, a := range c.Attempts {
		r.Attributes.Attempts[i] = attemptJSON{Number: a.Number, Trigger: a.Trigger, StartedAt: apiTime(a.StartedAt),
			DurationMS: a.DurationMS, Success: a.Success, ResponseStatus: a.ResponseStatus, ErrorKind: a.ErrorKind, Error: a.Error}
	}
	if r.Attributes.RequestHeaders == nil {
		r.Attributes.RequestHeaders = map[string]string{}
	}
	r.Relationships.Webhook.Data = resourceID{ID: c.WebhookID, Type: "webhook"}
	return r
}

func (s *Server) listCalls(w http.ResponseWriter, r *http.Request, project string, _ map[string]string) error {
	q, err := parseCallQuery(r.URL.Query())
	if err != nil {
		return err
	}
	calls, total, err := s.calls.ListCalls(r.Context(), project, q)
	if err != nil {
		return err
	}
	included, err := s.includedWebhooks(r.Context(), project, calls)
	if err != nil {
		return err
	}
	data := make([]callResource, len(calls))
	for i, c := range calls {
		data[i] = callJSON(c)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"data": data, "meta": map[string]int{"total_count": total}, "included": included,
	})
	return nil
}

func (s *Server) getCall(w http.ResponseWriter, r *http.Request, project string, p map[string]string) error {
	c, err := s.calls.GetCall(r.Context(), project, p["id"])
	if err != nil {
		return err
	}
	included, err := s.includedWebhooks(r.Context(), project, []*herald.Call{c})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": callJSON(c), "included": included})
	return nil
}

// includedWebhooks are the webhooks the calls belong to, those that still
// exist, each once.
func (s *Server) includedWebhooks(ctx context.Context, project string, calls []*herald.Call) ([]webhookResource, error) {
	out := []webhookResource{}
	if len(calls) == 0 {
		return out, nil
	}
	hooks, err := s.webhooks.ListWebhooks(ctx, project)
	if err != nil {
		return nil, err
	}
	for _, h := range hooks {
		if slices.ContainsFunc(calls, func(c *herald.Call) bool { return c.WebhookID == h.ID }) {
			out = append(out, webhookJSON(h))
		}
	}
	return out, nil
}

// resendCall queues a manual attempt now, with the webhook's current
// settings. While one is pending, asking again queues nothing more: a
// double click sends once.
func (s *Server) resendCall(w http.ResponseWriter, r *http.Request, project string, p map[string]string) error {
	c, err := s.calls.GetCall(r.Context(), project, p["id"])
	if err != nil {
		return err
	}
	if _, err := s.webhooks.GetWebhook(r.Context(), project, c.WebhookID); herald.ErrorCode(err) == herald.ENOTFOUND {
		return herald.Invalid([]herald.Problem{{Field: "webhook", Code: herald.ValidationInvalid,
			Message: "the webhook of this call was deleted; it cannot be resent"}})
	} else if err != nil {
		return err
	}
	resendID := newResendID()
	queued, err := s.calls.RequestResend(r.Context(), project, c.ID, resendID)
	if err != nil {
		return err
	}
	if queued {
		job := herald.Job{ProjectID: project, CallID: c.ID, Trigger: herald.TriggerManual, ResendID: resendID}
		if err := s.queue.Send(r.Context(), job, 0); err != nil {
			return err
		}
		c.ResendID = resendID
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": callJSON(c)})
	return nil
}

func newResendID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// parseCallQuery reads the list parameters of CONTRACT §1. Every bad value
// is reported against its parameter.
func parseCallQuery(v url.Values) (herald.CallQuery, error) {
	q := herald.CallQuery{Limit: herald.DefaultCallLimit, Desc: true}
	var ps []herald.Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, herald.Problem{Field: field, Code: herald.ValidationInvalid, Message: fmt.Sprintf(format, args...)})
	}
	for _, name := range sortedKeys(v) {
		if !isCallQueryParam(name) {
			// Other parameters (X-Api-Version as a query, cache busters,
			// repeated or not) are not Herald's to refuse.
			continue
		}
		if len(v[name]) > 1 {
			bad(name, "is given more than once")
			continue
		}
		val := v.Get(name)
		switch {
		case name == "page[offset]":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				bad(name, "must be a whole number of at least 0")
			}
			q.Offset = n
		case name == "page[limit]":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > herald.MaxCallLimit {
				bad(name, "must be a whole number from 1 to %d", herald.MaxCallLimit)
			}
			q.Limit = n
		case name == "filter[ids]":
			for _, id := range strings.Split(val, ",") {
				if id = strings.TrimSpace(id); id != "" && !slices.Contains(q.IDs, id) {
					q.IDs = append(q.IDs, id)
				}
			}
			if len(q.IDs) == 0 || len(q.IDs) > herald.MaxCallIDsFilter {
				bad(name, "must list from 1 to %d comma-separated ids", herald.MaxCallIDsFilter)
			}
		case name == "order_by":
			field, dir, ok := cutLast(val, "_")
			if !ok || !slices.Contains(herald.CallOrderings, field) || (dir != "asc" && dir != "desc") {
				bad(name, "must be one of %s, each with _asc or _desc", strings.Join(herald.CallOrderings, ", "))
			}
			q.OrderBy, q.Desc = field, dir == "desc"
		case strings.HasPrefix(name, "filter[fields]["):
			parseFieldFilter(&q, name, val, bad)
		}
	}
	return q, herald.Invalid(ps)
}

// isCallQueryParam reports whether name is a list parameter of CONTRACT §1.
func isCallQueryParam(name string) bool {
	switch name {
	case "page[offset]", "page[limit]", "filter[ids]", "order_by":
		return true
	}
	return strings.HasPrefix(name, "filter[fields][")
}

func parseFieldFilter(q *herald.CallQuery, name, val string, bad func(string, string, ...any)) {
	inner := strings.TrimSuffix(strings.TrimPrefix(name, "filter[fields]["), "]")
	field, op, ok := strings.Cut(inner, "][")
	if !ok {
		bad(name, "must look like filter[fields][<field>][<operator>]")
		return
	}
	enum := func(allowed []string, dst *string) {
		if op != "eq" {
			bad(name, "%s takes only eq", field)
		} else if !slices.Contains(allowed, val) {
			bad(name, "must be one of %s", strings.Join(allowed, ", "))
		} else {
			*dst = val
		}
	}
	timeBound := func(after, before **time.Time) {
		t, err := time.Parse(time.RFC3339Nano, val)
		switch {
		case err != nil:
			bad(name, "must be an RFC 3339 time such as 2026-11-26T10:00:00Z")
		case op == "gt":
			*after = &t
		case op == "lt":
			*before = &t
		default:
			bad(name, "%s takes gt or lt", field)
		}
	}
	switch field {
	case "webhook_id":
		if op != "eq" || val == "" {
			bad(name, "webhook_id takes eq with an id")
		}
		q.WebhookID = val
	case "entity_type":
		enum(herald.EntityTypes(), &q.EntityType)
	case "event_type":
		enum(herald.AllEventTypes(), &q.EventType)
	case "status":
		var s string
		statuses := make([]string, 0, 4)
		for _, st := range herald.Statuses() {
			statuses = append(statuses, string(st))
		}
		enum(statuses, &s)
		q.Status = herald.Status(s)
	case "created_at":
		timeBound(&q.CreatedAfter, &q.CreatedBefore)
	case "last_sent_at":
		timeBound(&q.LastSentAfter, &q.LastSentBefore)
	case "next_retry_at":
		timeBound(&q.NextRetryAfter, &q.NextRetryBefore)
	default:
		bad(name, "calls cannot be filtered by %s", field)
	}
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
