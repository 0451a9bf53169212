package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/heraldhq/herald/shared/guard"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/metrics"
)

// Store is what ingest needs of the table.
type Store interface {
	ListWebhooks(ctx context.Context, project string) ([]*herald.Webhook, error)
	ClaimEvent(ctx context.Context, project, eventID string, calls []herald.CallRef, payload []byte, expires time.Time) (recorded []herald.CallRef, duplicate bool, err error)
	CreateCall(ctx context.Context, c *herald.Call) (bool, error)
	CallStates(ctx context.Context, project string, ids []string) (map[string]*herald.Call, error)
	ReplanEvent(ctx context.Context, project, eventID string, old, calls []herald.CallRef) error
}

// Queue is what ingest needs of the first-attempt queue.
type Queue interface {
	SendAll(ctx context.Context, jobs []herald.Job) error
}

// Handler handles ingest invocations.
type Handler struct {
	store     Store
	queue     Queue
	clock     herald.Clock
	log       *slog.Logger
	retention time.Duration
	matchers  *matcherCache
	metrics   *metrics.Recorder
}

// Deps are a Handler's dependencies, all given at construction.
type Deps struct {
	Store     Store
	Queue     Queue // the first-attempt queue
	Clock     herald.Clock
	Log       *slog.Logger
	Retention time.Duration // how long calls (and events) are kept
	// Metrics receives the embedded-metric-format lines (the function's
	// stdout); nil writes none.
	Metrics io.Writer
	// WebhookTTL is how long a warm function reuses a project's webhooks
	// before reading them again. docs/ingest.md says why a few seconds of
	// staleness is acceptable.
	WebhookTTL time.Duration
}

// DefaultWebhookTTL is the webhook cache lifetime.
const DefaultWebhookTTL = 5 * time.Second

// New returns a Handler.
func New(d Deps) *Handler {
	ttl := d.WebhookTTL
	if ttl == 0 {
		ttl = DefaultWebhookTTL
	}
	return &Handler{
		store: d.Store, queue: d.Queue, clock: d.Clock, log: d.Log, retention: d.Retention,
		matchers: &matcherCache{ttl: ttl, entries: map[string]*matcherEntry{}},
		metrics:  metrics.New(d.Metrics, "IngestFunction"),
	}
}

// Reply is what an invocation answers: one result per event, in order.
type Reply struct {
	Results  []Result `json:"results"`
	Accepted int      `json:"accepted"`
	Rejected int      `json:"rejected"`
}

// Result is the outcome of one event.
type Result struct {
	EventID string `json:"event_id,omitempty"`
	// Status is "accepted" (calls created and queued), "duplicate" (seen
	// before; its calls are listed and were queued again if unsent) or
	// "rejected" (invalid; nothing was written).
	Status   string           `json:"status"`
	Calls    []herald.CallRef `json:"calls"`
	Errors   []ResultError    `json:"errors,omitempty"`
	internal error
}

// ResultError says what is wrong with a rejected event.
type ResultError struct {
	Field   string `json:"field,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// maxParallelEvents bounds the events of one batch worked on at once.
const maxParallelEvents = 8

// Handle ingests one event or a batch {"events": [...]}. Invalid events are
// rejected in the reply without affecting the others. If any event could not
// be stored or queued, Handle returns an error after finishing the rest: the
// invocation fails, so the CMS sends the batch again, and the events that did
// get through are then recognized as duplicates.
func (h *Handler) Handle(ctx context.Context, payload json.RawMessage) (Reply, error) {
	raws, err := splitBatch(payload)
	if err != nil {
		return Reply{}, err
	}
	reply := Reply{Results: make([]Result, len(raws))}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelEvents)
	for i, raw := range raws {
		g.Go(func() (err error) {
			// One event's panic fails that event, not the process.
			defer func() {
				if err != nil {
					reply.Results[i] = Result{EventID: eventIDOf(raw), Status: "failed", Calls: []herald.CallRef{},
						Errors:   []ResultError{{Code: "INTERNAL_ERROR", Message: "the event could not be stored or queued; send it again"}},
						internal: err}
				}
			}()
			defer guard.Recover(&err)
			reply.Results[i] = h.ingest(gctx, raw)
			return nil
		})
	}
	_ = g.Wait() // ingest reports its errors in its Result
	var failed []error
	for _, r := range reply.Results {
		switch r.Status {
		case "accepted", "duplicate":
			reply.Accepted++
			h.metrics.Count(metrics.IngestEvents, "", 1)
			if r.Status == "accepted" {
				h.metrics.Count(metrics.IngestMatches, "", float64(len(r.Calls)))
			}
		case "rejected":
			reply.Rejected++
		default:
			failed = append(failed, r.internal)
		}
	}
	if err := h.metrics.Flush(h.clock.Now()); err != nil {
		h.log.ErrorContext(ctx, "could not write metrics", "error", err)
	}
	if len(failed) > 0 {
		return reply, fmt.Errorf("%d of %d events not ingested: %w", len(failed), len(raws), errors.Join(failed...))
	}
	return reply, nil
}

func (h *Handler) ingest(ctx context.Context, raw json.RawMessage) Result {
	start := time.Now()
	ev, subject, err := herald.ParseEvent(raw)
	if err == nil && ev.EntityType == herald.EntityWebhook {
		// Operational events are Herald's own (Raise): a CMS that could
		// send them could tell a project's alerting anything.
		err = herald.Invalid([]herald.Problem{{Field: "entity_type", Code: herald.ValidationEnum,
			Message: "webhook events are raised by Herald itself, not sent by the CMS"}})
	}
	if err != nil {
		res := Result{EventID: eventIDOf(raw), Status: "rejected", Calls: []herald.CallRef{}, Errors: resultErrors(err)}
		h.log.InfoContext(ctx, "event rejected", "event_id", res.EventID, "errors", len(res.Errors))
		return res
	}
	return h.accept(ctx, ev, subject, start)
}

// Raise ingests an operational event Herald raises about one of a
// project's webhooks (herald.NewOperationalEvent): matched against the
// project's webhooks but the one it is about, recorded once (raising it
// again, with the same event id, creates nothing new), and queued like any
// event's calls. Delivery raises them; docs/endpoint-health.md.
func (h *Handler) Raise(ctx context.Context, ev *herald.Event, subject *herald.Subject) (Result, error) {
	res := h.accept(ctx, ev, subject, time.Now())
	if res.Status == "failed" {
		return res, res.internal
	}
	return res, nil
}

// accept matches a valid event, records it and its calls, and queues their
// first attempts.
func (h *Handler) accept(ctx context.Context, ev *herald.Event, subject *herald.Subject, start time.Time) Result {
	matcher, err := h.matchers.get(ctx, ev.ProjectID, h.clock.Now(), h.store.ListWebhooks)
	if err != nil {
		return h.failed(ctx, ev, err)
	}
	hooks := matcher.Match(subject)
	res := Result{EventID: ev.EventID, Status: "accepted", Calls: []herald.CallRef{}}
	if len(hooks) == 0 {
		h.log.InfoContext(ctx, "event matched nothing", "project", ev.ProjectID, "event_id", ev.EventID,
			"entity_type", ev.EntityType, "event_type", ev.EventType)
		return res
	}

	// Calls are stamped to the millisecond their ULIDs carry, so that
	// created_at filters can be key conditions on the id.
	now := h.clock.Now().Truncate(time.Millisecond)
	planned := make([]herald.CallRef, len(hooks))
	for i, w := range hooks {
		planned[i] = herald.CallRef{WebhookID: w.ID, CallID: herald.NewID(now)}
	}
	// The payload is encoded once per event, whatever the number of calls:
	// stored in the event item, and carried by each first-attempt job.
	doc, err := herald.MarshalPayload(ev.Payload())
	if err != nil {
		return h.failed(ctx, ev, err)
	}
	refs, duplicate, err := h.store.ClaimEvent(ctx, ev.ProjectID, ev.EventID, planned, doc, now.Add(h.retention))
	if err != nil {
		return h.failed(ctx, ev, err)
	}
	res.Calls = refs
	var jobs []herald.Job
	if duplicate {
		res.Status = "duplicate"
		refs, jobs, err = h.resume(ctx, ev, refs, now)
		res.Calls = refs
	} else {
		jobs, err = h.createCalls(ctx, ev, refs, now, false)
	}
	if err != nil {
		return h.failed(ctx, ev, err)
	}
	for i := range jobs {
		if len(doc) <= herald.MaxJobPayload {
			jobs[i].Payload = doc
		}
	}
	if err := h.queue.SendAll(ctx, jobs); err != nil {
		return h.failed(ctx, ev, err)
	}
	h.log.InfoContext(ctx, "event ingested", "project", ev.ProjectID, "event_id", ev.EventID,
		"status", res.Status, "calls", len(refs), "queued", len(jobs), "duration_ms", time.Since(start).Milliseconds())
	return res
}

// createCalls writes the calls refs name, created at their ids' time, and
// returns the first-attempt job of each. A call that is there already is
// left as it is (an earlier ingest of the event wrote it); replay marks the
// jobs of an event sent again, whose delivery claims the attempt instead of
// assuming it is the first.
func (h *Handler) createCalls(ctx context.Context, ev *herald.Event, refs []herald.CallRef, now time.Time, replay bool) ([]herald.Job, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	jobs := make([]herald.Job, len(refs))
	for i, ref := range refs {
		created, ok := herald.IDTime(ref.CallID)
		if !ok {
			created = now
		}
		c := herald.NewCall(ref.CallID, &herald.Webhook{ID: ref.WebhookID}, ev, created, h.retention)
		jobs[i] = herald.Job{ProjectID: ev.ProjectID, CallID: ref.CallID, Trigger: herald.TriggerFirst,
			WebhookID: ref.WebhookID, EntityType: ev.EntityType, EventType: ev.EventType, EventID: ev.EventID,
			ExpiresAt: c.ExpiresAt.Unix(), Replay: replay}
		g.Go(guard.Func(func() error {
			_, err := h.store.CreateCall(gctx, c)
			return err
		}))
	}
	return jobs, g.Wait()
}

// resume finishes what an earlier ingest of the same event left undone.
// Nothing marks an event done: sent again, it is read again. A call that
// was never written is written (with a new id when it was planned long ago:
// replanMissing) and queued; a call written but never attempted is queued
// again, as a replay the delivery claims (its first job may be on the queue
// still, or lost with a crash before the send); a call attempted already is
// left alone. So an event sent again queues nothing for a finished event,
// and a resumed one sends no call twice.
func (h *Handler) resume(ctx context.Context, ev *herald.Event, refs []herald.CallRef, now time.Time) ([]herald.CallRef, []herald.Job, error) {
	ids := make([]string, len(refs))
	for i, ref := range refs {
		ids[i] = ref.CallID
	}
	states, err := h.store.CallStates(ctx, ev.ProjectID, ids)
	if err != nil {
		return nil, nil, err
	}
	if refs, err = h.replanMissing(ctx, ev, refs, states, now); err != nil {
		return nil, nil, err
	}
	var missing, waiting []herald.CallRef
	for _, ref := range refs {
		switch c := states[ref.CallID]; {
		case c == nil:
			missing = append(missing, ref)
		case c.AttemptCount == 0 && c.NextAuto != nil && *c.NextAuto == 0:
			waiting = append(waiting, ref)
		}
	}
	jobs, err := h.createCalls(ctx, ev, missing, now, false)
	if err != nil {
		return nil, nil, err
	}
	for _, ref := range waiting {
		jobs = append(jobs, herald.Job{ProjectID: ev.ProjectID, CallID: ref.CallID, Trigger: herald.TriggerFirst,
			WebhookID: ref.WebhookID, EntityType: ev.EntityType, EventType: ev.EventType, EventID: ev.EventID,
			ExpiresAt: states[ref.CallID].ExpiresAt.Unix(), Replay: true})
	}
	return refs, jobs, nil
}

// replanAfter is how old a planned call may be and still be written with
// its planned id: longer than an ingest invocation runs (30 s), shorter
// than the time after which an hour's call count is kept (closeMargin in
// shared/dynamo, 2 minutes).
const replanAfter = time.Minute

// replanMissing gives a new id, of now, to each call an earlier ingest of the
// event planned more than replanAfter ago and never wrote. Written with its
// planned time, such a call would land in an hour whose count may already
// be kept, and meta.total_count would stay short of the list. It is safe:
// a call that was never written was never queued nor shown (ingest queues
// only once every call of the event is written), and an invocation that
// could still write it has long timed out.
func (h *Handler) replanMissing(ctx context.Context, ev *herald.Event, refs []herald.CallRef, written map[string]*herald.Call, now time.Time) ([]herald.CallRef, error) {
	planned := slices.Clone(refs)
	changed := false
	for i, ref := range refs {
		at, ok := herald.IDTime(ref.CallID)
		if ok && now.Sub(at) < replanAfter || written[ref.CallID] != nil {
			continue
		}
		planned[i].CallID = herald.NewID(now)
		changed = true
	}
	if !changed {
		return refs, nil
	}
	if err := h.store.ReplanEvent(ctx, ev.ProjectID, ev.EventID, refs, planned); err != nil {
		return nil, err
	}
	return planned, nil
}

func (h *Handler) failed(ctx context.Context, ev *herald.Event, err error) Result {
	h.log.ErrorContext(ctx, "event not ingested", "project", ev.ProjectID, "event_id", ev.EventID, "error", err)
	return Result{EventID: ev.EventID, Status: "failed", Calls: []herald.CallRef{},
		Errors:   []ResultError{{Code: "INTERNAL_ERROR", Message: "the event could not be stored or queued; send it again"}},
		internal: fmt.Errorf("event %s: %w", ev.EventID, err)}
}

func resultErrors(err error) []ResultError {
	if ps := herald.ErrorProblems(err); len(ps) > 0 {
		out := make([]ResultError, len(ps))
		for i, p := range ps {
			out[i] = ResultError{Field: p.Field, Code: p.Code, Message: p.Message}
		}
		return out
	}
	code := "INVALID_EVENT"
	if herald.ErrorCode(err) == herald.ETOOLARGE {
		code = "EVENT_TOO_LARGE"
	}
	return []ResultError{{Code: code, Message: herald.ErrorMessage(err)}}
}

// eventIDOf reads event_id from an event that may be invalid, so a rejection
// can still say which event it was.
func eventIDOf(raw json.RawMessage) string {
	var v struct {
		EventID any `json:"event_id"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	s, _ := v.EventID.(string)
	if len(s) > herald.MaxEventIDBytes {
		return ""
	}
	return s
}
