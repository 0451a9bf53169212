package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/heraldhq/herald/shared/guard"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/metrics"
	"github.com/heraldhq/herald/shared/sender"
)

// Store is what delivery needs of the table.
type Store interface {
	ClaimAttempt(ctx context.Context, job herald.Job, leaseID string, lease time.Duration) (*herald.Call, herald.ClaimResult, error)
	RecordAttempt(ctx context.Context, c *herald.Call, leaseID string, rec herald.Recording) error
	GetWebhook(ctx context.Context, project, id string) (*herald.Webhook, error)
	EventPayload(ctx context.Context, project, eventID string) (herald.Payload, error)
	MarkDeadLettered(ctx context.Context, job herald.Job, reason string) error
	Upgrade(ctx context.Context, maxItems int, margin time.Duration) (herald.UpgradeProgress, error)
	DueShards() int
	DueRetries(ctx context.Context, shard int, until time.Time, after *herald.ParkedRetry, limit int) ([]herald.ParkedRetry, error)
	Unpark(ctx context.Context, r herald.ParkedRetry) error
}

// Queue is what delivery needs of the delivery queue (retries).
type Queue interface {
	Send(ctx context.Context, job herald.Job, delay time.Duration) error
	SendDelayed(ctx context.Context, jobs []herald.DelayedJob) error
}

// Sender sends one request.
type Sender interface {
	Send(ctx context.Context, req sender.Request) sender.Result
}

// MaxReceives is how many times SQS hands a job over before its queue's
// redrive policy moves it to the dead-letter queue (maxReceiveCount in
// template.yaml, both queues).
const MaxReceives = 5

// Lease is how long a claimed attempt is ours. It outlasts the send timeout
// and the writes around it; after a crash, the attempt can be claimed again
// once it has run out.
const Lease = 60 * time.Second

// Handler handles delivery invocations: SQS batches from both queues, and
// sweeps.
type Handler struct {
	store   Store
	queue   Queue
	sender  Sender
	clock   herald.Clock
	log     *slog.Logger
	hooks   *webhookCache
	metrics *metrics.Recorder
	// health (health.go): nil keeps none and raises nothing.
	health           HealthStore
	raiseEvent       RaiseFunc
	autoDisableAfter time.Duration
	// upgraded is set once the store reports its upgrade done: the
	// instance's later sweeps skip even the one read that says so.
	upgraded atomic.Bool
}

// Deps are a Handler's dependencies, all given at construction.
type Deps struct {
	Store  Store
	Queue  Queue // the delivery queue: retries
	Sender Sender
	Clock  herald.Clock
	Log    *slog.Logger
	// Metrics receives the embedded-metric-format lines (the function's
	// stdout); nil writes none.
	Metrics io.Writer
	// WebhookTTL is how long a webhook read is reused; WebhookTTL if 0.
	WebhookTTL time.Duration
	// Health keeps webhooks' health after each attempt; nil keeps none
	// (docs/endpoint-health.md).
	Health HealthStore
	// Raise ingests the operational events health raises; nil raises none.
	Raise RaiseFunc
	// AutoDisableAfter is how long every attempt of a webhook must fail
	// before it is disabled; 0 never disables.
	AutoDisableAfter time.Duration
}

// New returns a Handler.
func New(d Deps) *Handler {
	ttl := d.WebhookTTL
	if ttl == 0 {
		ttl = WebhookTTL
	}
	return &Handler{store: d.Store, queue: d.Queue, sender: d.Sender, clock: d.Clock, log: d.Log,
		hooks: newWebhookCache(d.Store.GetWebhook, ttl), metrics: metrics.New(d.Metrics, "DeliveryFunction"),
		health: d.Health, raiseEvent: d.Raise, autoDisableAfter: d.AutoDisableAfter}
}

// errRetryLater marks a message to be received again later.
var errRetryLater = errors.New("retry later")

// HandleSQS delivers a batch concurrently: one slow receiver does not delay
// the others (each send is bounded by the sender's timeout). Messages to
// receive again are reported as batch item failures; only when not one
// message could be processed does the whole batch fail.
func (h *Handler) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	errs := make([]error, len(ev.Records))
	var wg sync.WaitGroup
	for i, msg := range ev.Records {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer guard.Recover(&errs[i]) // one message's panic fails that message, not the batch
			errs[i] = h.handleMessage(ctx, msg)
		}()
	}
	wg.Wait()
	if err := h.metrics.Flush(h.clock.Now()); err != nil {
		h.log.ErrorContext(ctx, "could not write metrics", "error", err)
	}
	var resp events.SQSEventResponse
	var internal []error
	for i, err := range errs {
		if err == nil {
			continue
		}
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ev.Records[i].MessageId})
		if !errors.Is(err, errRetryLater) {
			internal = append(internal, err)
			h.lastReceive(ctx, ev.Records[i], err)
		}
	}
	if len(ev.Records) > 0 && len(internal) == len(ev.Records) {
		return events.SQSEventResponse{}, fmt.Errorf("no message of the batch could be processed: %w", errors.Join(internal...))
	}
	return resp, nil
}

func (h *Handler) handleMessage(ctx context.Context, msg events.SQSMessage) error {
	job, err := herald.DecodeJob([]byte(msg.Body))
	if err != nil || job.ProjectID == "" || job.CallID == "" {
		// Never deliverable: let the redrive policy move it to the DLQ,
		// where it is counted and alarmed on.
		h.log.ErrorContext(ctx, "malformed delivery message", "message_id", msg.MessageId)
		return fmt.Errorf("malformed message %s", msg.MessageId)
	}
	if h.fresh(job, msg) {
		return h.attempt(ctx, job, firstCall(job), herald.FirstAttemptLease)
	}
	return h.deliver(ctx, job)
}

// lastReceive records, when a job fails on the last receive its queue allows,
// that its call's attempt went to the dead-letter queue: otherwise the call
// would show pending, or rescheduled for a time long past, until someone
// moved the job back. (A function that crashes outright on every receive
// cannot say so; docs/delivery.md.)
func (h *Handler) lastReceive(ctx context.Context, msg events.SQSMessage, cause error) {
	if n, err := strconv.Atoi(msg.Attributes["ApproximateReceiveCount"]); err != nil || n < MaxReceives {
		return
	}
	job, err := herald.DecodeJob([]byte(msg.Body))
	if err != nil || job.ProjectID == "" || job.CallID == "" {
		return
	}
	reason := fmt.Sprintf("the delivery job failed on each of its %d receives and was moved to the dead-letter queue; "+
		"it goes out again when moved back (make redrive), or resend it", MaxReceives)
	if err := h.store.MarkDeadLettered(ctx, job, reason); err != nil {
		h.log.ErrorContext(ctx, "could not mark a dead-lettered call", "project", job.ProjectID, "call_id", job.CallID, "error", err)
		return
	}
	h.log.ErrorContext(ctx, "job dead-lettered", "project", job.ProjectID, "call_id", job.CallID,
		"trigger", job.Trigger, "retry", job.Retry, "error", cause)
}

// fresh reports whether a job may send the first attempt under the lease
// its call was created with, claiming nothing: it is ingest's own job for a
// new event, on the first-attempt queue (FIFO: SQS delivers it once and
// holds any copy back until it is done), received for the first time, well
// within the lease. Any other job claims its attempt (deliver): one received
// again after a crash, a late one, a replay for an event sent again.
func (h *Handler) fresh(job herald.Job, msg events.SQSMessage) bool {
	if job.Trigger != herald.TriggerFirst || job.Replay || job.Retry != 0 || job.WebhookID == "" || job.EventID == "" {
		return false
	}
	if msg.Attributes["ApproximateReceiveCount"] != "1" {
		return false
	}
	created, ok := herald.IDTime(job.CallID)
	return ok && h.clock.Now().Sub(created) < herald.FirstAttemptFresh
}

// firstCall is the call a fresh first-attempt job names, as ingest wrote it.
func firstCall(job herald.Job) *herald.Call {
	created, _ := herald.IDTime(job.CallID)
	return &herald.Call{
		ID: job.CallID, ProjectID: job.ProjectID, WebhookID: job.WebhookID, EventID: job.EventID,
		EntityType: job.EntityType, EventType: job.EventType, CreatedAt: created,
		Status: herald.StatusPending, NextAuto: new(int), AttemptCount: 1,
		ExpiresAt: time.Unix(job.ExpiresAt, 0).UTC(), RequestHeaders: map[string]string{},
	}
}

// deliver claims the attempt a job names, if it is still wanted, and makes
// it.
func (h *Handler) deliver(ctx context.Context, job herald.Job) error {
	leaseID := newLeaseID()
	call, claim, err := h.store.ClaimAttempt(ctx, job, leaseID, Lease)
	if err != nil {
		return err
	}
	switch claim {
	case herald.Gone:
		h.log.InfoContext(ctx, "call gone", "project", job.ProjectID, "call_id", job.CallID)
		return nil
	case herald.Busy:
		h.log.InfoContext(ctx, "attempt busy; job comes back later", "project", job.ProjectID, "call_id", job.CallID,
			"trigger", job.Trigger, "retry", job.Retry)
		return errRetryLater
	case herald.Stale:
		h.log.InfoContext(ctx, "job no longer wanted", "project", job.ProjectID, "call_id", job.CallID,
			"trigger", job.Trigger, "retry", job.Retry)
		return h.healSchedule(ctx, job, call)
	}
	return h.attempt(ctx, job, call, leaseID)
}

// healSchedule handles a stale auto job whose call has its next retry
// scheduled for the queue but perhaps never queued: the attempt before was
// recorded and the function stopped before sending the next job. Receiving
// the old job again means exactly that happened (its message was never
// deleted), so the next job is queued now; were it queued already, its
// duplicate is dropped by the claim.
func (h *Handler) healSchedule(ctx context.Context, job herald.Job, c *herald.Call) error {
	if job.Trigger == herald.TriggerManual || c == nil || c.NextAuto == nil || c.Parked ||
		*c.NextAuto != job.Retry+1 || c.NextRetryAt == nil {
		return nil
	}
	next := herald.Job{ProjectID: c.ProjectID, CallID: c.ID, Trigger: herald.TriggerAuto, Retry: *c.NextAuto}
	if err := h.queue.Send(ctx, next, c.NextRetryAt.Sub(h.clock.Now())); err != nil {
		return fmt.Errorf("requeue retry %d of call %s: %w", next.Retry, c.ID, err)
	}
	return nil
}

func newLeaseID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
