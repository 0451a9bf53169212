package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/heraldhq/herald/shared/guard"
	"github.com/heraldhq/herald/shared/herald"
)

// HealthStore is what the API needs for endpoint health
// (docs/endpoint-health.md): webhooks' health, test sends and bulk resends.
type HealthStore interface {
	WebhookHealth(ctx context.Context, project string, ids []string) (map[string]herald.Health, error)
	ClaimEvent(ctx context.Context, project, eventID string, calls []herald.CallRef, payload []byte, expires time.Time) ([]herald.CallRef, bool, error)
	CreateCall(ctx context.Context, c *herald.Call) (bool, error)
	MatchCalls(ctx context.Context, project string, q herald.CallQuery, limit int) ([]herald.CallRef, error)
	ClaimBulkResend(ctx context.Context, project, key, newID string) (string, error)
	RequestBulkResend(ctx context.Context, project, callID, resendID, bulkID string) (herald.ResendOutcome, error)
	CancelBulkResend(ctx context.Context, project, callID, resendID string) error
}

// healthJSON is a webhook's health as the API shows it. hourly, the chart's
// 24 hours, comes only with a single webhook (GET /webhooks/:id).
type healthJSON struct {
	LastSuccessAt       *apiTime   `json:"last_success_at"`
	FailingSince        *apiTime   `json:"failing_since"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	Successes24h        int        `json:"successes_24h"`
	Failures24h         int        `json:"failures_24h"`
	Hourly              []hourJSON `json:"hourly,omitempty"`
}

type hourJSON struct {
	Hour      apiTime `json:"hour"`
	Successes int     `json:"successes"`
	Failures  int     `json:"failures"`
}

func newHealthJSON(h herald.Health, hourly bool) *healthJSON {
	out := &healthJSON{LastSuccessAt: optTime(h.LastSuccessAt), FailingSince: optTime(h.FailingSince),
		ConsecutiveFailures: h.ConsecutiveFailures, Successes24h: h.Successes24h, Failures24h: h.Failures24h}
	if hourly {
		out.Hourly = make([]hourJSON, len(h.Hours))
		for i, hh := range h.Hours {
			out.Hourly[i] = hourJSON{Hour: apiTime(hh.Start), Successes: hh.Successes, Failures: hh.Failures}
		}
	}
	return out
}

// withHealth shows webhooks with their health.
func (s *Server) withHealth(ctx context.Context, project string, hooks []*herald.Webhook, hourly bool) ([]webhookResource, error) {
	out := make([]webhookResource, len(hooks))
	for i, h := range hooks {
		out[i] = webhookJSON(h)
	}
	if s.health == nil || len(hooks) == 0 {
		return out, nil
	}
	ids := make([]string, len(hooks))
	for i, h := range hooks {
		ids[i] = h.ID
	}
	health, err := s.health.WebhookHealth(ctx, project, ids)
	if err != nil {
		return nil, err
	}
	for i, h := range hooks {
		out[i].Attributes.Health = newHealthJSON(health[h.ID], hourly)
	}
	return out, nil
}

// pingWebhook sends a test call (an operational event of type ping) to one
// webhook, now, whatever its triggers and even while it is disabled, so
// that a person can check an endpoint before enabling it again. The call is
// logged like any other and never retried automatically; the answer is the
// call, pending, which the page follows until its attempt is recorded.
func (s *Server) pingWebhook(w http.ResponseWriter, r *http.Request, project string, p map[string]string) error {
	ctx := r.Context()
	hook, err := s.webhooks.GetWebhook(ctx, project, p["id"])
	if err != nil {
		return err
	}
	now := s.clock.Now().Truncate(time.Millisecond)
	id := herald.NewID(now)
	ev, _, err := herald.NewOperationalEvent(herald.OpPing, hook, nil, &herald.Call{ID: id}, now, now)
	if err != nil {
		return err
	}
	c := herald.NewCall(id, hook, ev, now, s.retention)
	doc, err := herald.MarshalPayload(c.Payload)
	if err != nil {
		return err
	}
	if _, _, err := s.health.ClaimEvent(ctx, project, ev.EventID, []herald.CallRef{{WebhookID: hook.ID, CallID: id}}, doc, c.ExpiresAt); err != nil {
		return err
	}
	if _, err := s.health.CreateCall(ctx, c); err != nil {
		return err
	}
	// On the delivery queue (the API sends only there), as a first attempt
	// that claims its attempt: a standard queue may hand a job out twice.
	job := herald.Job{ProjectID: project, CallID: id, Trigger: herald.TriggerFirst, WebhookID: hook.ID,
		EntityType: c.EntityType, EventType: c.EventType, EventID: ev.EventID, ExpiresAt: c.ExpiresAt.Unix(),
		Payload: doc, Replay: true}
	if err := s.queue.Send(ctx, job, 0); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "test send queued", "project", project, "webhook_id", hook.ID, "call_id", id)
	writeJSON(w, http.StatusCreated, map[string]any{"data": callJSON(c)})
	return nil
}

// bulkResendResource is the answer of a bulk resend.
type bulkResendResource struct {
	ID         string               `json:"id,omitempty"`
	Type       string               `json:"type"`
	Attributes bulkResendAttributes `json:"attributes"`
}

type bulkResendAttributes struct {
	Matched int  `json:"matched"`
	Queued  int  `json:"queued"`
	DryRun  bool `json:"dry_run"`
	// Resendable is how many of the matched calls a resend would go to:
	// those whose webhook exists and is enabled.
	Resendable int `json:"resendable"`
	// Skipped counts the matched calls not queued, by why.
	Skipped map[string]int `json:"skipped"`
}

// Why a matched call is not queued.
const (
	skipWebhookDeleted  = "webhook_deleted"
	skipWebhookDisabled = "webhook_disabled"
	skipAlreadyQueued   = "already_queued" // by the same request, within the window
	skipResendPending   = "resend_pending" // another resend of it is on its way
	skipGone            = "expired"
)

// bulkResend resends every call a list filter selects (the filter[...]
// parameters of GET /webhook_calls), each as a single resend does (same
// webhook-id, current settings), up to MaxBulkResend calls; dry_run=true
// only counts. The same request again within herald.BulkResendWindow
// queues nothing twice (dynamo/bulk.go).
func (s *Server) bulkResend(w http.ResponseWriter, r *http.Request, project string, _ map[string]string) error {
	ctx := r.Context()
	v := r.URL.Query()
	var ps []herald.Problem
	dryRun := false
	switch d := v["dry_run"]; {
	case len(d) > 1:
		ps = append(ps, herald.Problem{Field: "dry_run", Code: herald.ValidationInvalid, Message: "is given more than once"})
	case len(d) == 1 && d[0] == "true":
		dryRun = true
	case len(d) == 1 && d[0] != "false":
		ps = append(ps, herald.Problem{Field: "dry_run", Code: herald.ValidationInvalid, Message: "must be true or false"})
	}
	for _, name := range sortedKeys(v) {
		if strings.HasPrefix(name, "page[") || name == "order_by" {
			ps = append(ps, herald.Problem{Field: name, Code: herald.ValidationInvalid,
				Message: "a bulk resend takes the list's filter[...] parameters only; it resends every call they select"})
		}
	}
	q, err := parseCallQuery(v)
	if err != nil {
		ps = append(ps, herald.ErrorProblems(err)...)
	}
	if err := herald.Invalid(ps); err != nil {
		return err
	}
	refs, err := s.health.MatchCalls(ctx, project, q, s.maxBulkResend)
	if err != nil {
		return err
	}
	if len(refs) > s.maxBulkResend {
		return herald.Invalid([]herald.Problem{{Field: "filter", Code: herald.ValidationInvalid,
			Message: fmt.Sprintf("selects more than %d calls, the most one bulk resend takes; narrow it (by webhook, status or created_at) and send each part", s.maxBulkResend)}})
	}
	hooks, err := s.webhooks.ListWebhooks(ctx, project)
	if err != nil {
		return err
	}
	enabled := map[string]bool{}
	for _, h := range hooks {
		enabled[h.ID] = h.Enabled
	}
	res := bulkResendResource{Type: "webhook_call_bulk_resend", Attributes: bulkResendAttributes{
		Matched: len(refs), DryRun: dryRun, Skipped: map[string]int{}}}
	var todo []herald.CallRef
	for _, ref := range refs {
		on, exists := enabled[ref.WebhookID]
		switch {
		case !exists:
			res.Attributes.Skipped[skipWebhookDeleted]++
		case !on:
			res.Attributes.Skipped[skipWebhookDisabled]++
		default:
			todo = append(todo, ref)
		}
	}
	res.Attributes.Resendable = len(todo)
	if dryRun || len(todo) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{"data": res})
		return nil
	}

	bulkID, err := s.health.ClaimBulkResend(ctx, project, bulkKey(q), newResendID())
	if err != nil {
		return err
	}
	res.ID = bulkID
	jobs, skipped, err := s.markBulkResends(ctx, project, bulkID, todo)
	for k, n := range skipped {
		res.Attributes.Skipped[k] += n
	}
	if err != nil {
		return err
	}
	if err := s.queueBulkResends(ctx, project, jobs); err != nil {
		return err
	}
	res.Attributes.Queued = len(jobs)
	s.log.InfoContext(ctx, "bulk resend", "project", project, "bulk_id", bulkID, "matched", len(refs), "queued", len(jobs))
	writeJSON(w, http.StatusOK, map[string]any{"data": res})
	return nil
}

// bulkParallel bounds the calls a bulk resend marks at once.
const bulkParallel = 16

// markBulkResends marks each call's resend as pending for the bulk resend,
// and returns the jobs of those it marked.
func (s *Server) markBulkResends(ctx context.Context, project, bulkID string, refs []herald.CallRef) ([]herald.Job, map[string]int, error) {
	var mu sync.Mutex
	var jobs []herald.Job
	skipped := map[string]int{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(bulkParallel)
	for _, ref := range refs {
		g.Go(guard.Func(func() error {
			resendID := newResendID()
			outcome, err := s.health.RequestBulkResend(gctx, project, ref.CallID, resendID, bulkID)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			switch outcome {
			case herald.ResendQueued:
				jobs = append(jobs, herald.Job{ProjectID: project, CallID: ref.CallID, Trigger: herald.TriggerManual, ResendID: resendID})
			case herald.ResendAlreadyQueued:
				skipped[skipAlreadyQueued]++
			case herald.ResendPending:
				skipped[skipResendPending]++
			default:
				skipped[skipGone]++
			}
			return nil
		}))
	}
	err := g.Wait()
	if err != nil {
		// What was marked and not queued is taken back, so that the same
		// request, made again, queues it.
		s.cancelBulkResends(project, jobs)
		return nil, skipped, err
	}
	slices.SortFunc(jobs, func(a, b herald.Job) int { return strings.Compare(a.CallID, b.CallID) })
	return jobs, skipped, nil
}

// queueBulkResends sends the jobs ten at a time; when a batch cannot be
// sent, it and the batches after it are taken back.
func (s *Server) queueBulkResends(ctx context.Context, project string, jobs []herald.Job) error {
	for start := 0; start < len(jobs); start += 10 {
		batch := jobs[start:min(start+10, len(jobs))]
		if err := s.queue.SendAll(ctx, batch); err != nil {
			s.cancelBulkResends(project, jobs[start:])
			return err
		}
	}
	return nil
}

// cancelBulkResends takes back resends whose jobs were not queued. It runs
// even when the request's context is done, bounded by its own deadline.
func (s *Server) cancelBulkResends(project string, jobs []herald.Job) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, j := range jobs {
		if err := s.health.CancelBulkResend(ctx, project, j.CallID, j.ResendID); err != nil {
			s.log.ErrorContext(ctx, "could not take back a bulk resend", "project", project, "call_id", j.CallID, "error", err)
		}
	}
}

// bulkKey names a bulk resend request by its filter: the same filter is the
// same request.
func bulkKey(q herald.CallQuery) string {
	ids := slices.Clone(q.IDs)
	slices.Sort(ids)
	t := func(p *time.Time) string {
		if p == nil {
			return ""
		}
		return p.UTC().Format(time.RFC3339Nano)
	}
	canonical, _ := json.Marshal([]string{strings.Join(ids, ","), q.WebhookID, q.EntityType, q.EventType, string(q.Status),
		t(q.CreatedAfter), t(q.CreatedBefore), t(q.LastSentAfter), t(q.LastSentBefore), t(q.NextRetryAfter), t(q.NextRetryBefore)})
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:16])
}
