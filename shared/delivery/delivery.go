package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/sync/errgroup"

	"github.com/heraldhq/herald/shared/guard"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/sender"
	"github.com/heraldhq/herald/shared/signing"
)

// Store is what delivery needs of the table.
type Store interface {
	ClaimAttempt(ctx context.Context, job herald.Job, leaseID string, lease time.Duration) (*herald.Call, herald.ClaimResult, error)
	RecordAttempt(ctx context.Context, c *herald.Call, leaseID string, rec herald.Recording) error
	GetWebhook(ctx context.Context, project, id string) (*herald.Webhook, error)
	DueShards() int
	DueRetries(ctx context.Context, shard int, until time.Time, after *herald.ParkedRetry, limit int) ([]herald.ParkedRetry, error)
	Unpark(ctx context.Context, r herald.ParkedRetry) error
}

// Queue is what delivery needs of the queue.
type Queue interface {
	Send(ctx context.Context, job herald.Job, delay time.Duration) error
	SendDelayed(ctx context.Context, jobs []herald.DelayedJob) error
}

// Sender sends one request.
type Sender interface {
	Send(ctx context.Context, req sender.Request) sender.Result
}

// Lease is how long a claimed attempt is ours. It outlasts the send timeout
// and the writes around it; after a crash, the attempt can be claimed again
// once it has run out.
const Lease = 60 * time.Second

// maxQueueDelay is how far ahead a retry may go on the queue; one further
// away is parked. A little under SQS's 15 minutes, so the sweeper's
// look-ahead (sweepAhead) covers it.
const maxQueueDelay = 14 * time.Minute

// Handler handles delivery invocations: SQS batches and sweeps.
type Handler struct {
	store  Store
	queue  Queue
	sender Sender
	clock  herald.Clock
	log    *slog.Logger
}

// New returns a Handler.
func New(store Store, queue Queue, s Sender, clock herald.Clock, log *slog.Logger) *Handler {
	return &Handler{store: store, queue: queue, sender: s, clock: clock, log: log}
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
	var resp events.SQSEventResponse
	var internal []error
	for i, err := range errs {
		if err == nil {
			continue
		}
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ev.Records[i].MessageId})
		if !errors.Is(err, errRetryLater) {
			internal = append(internal, err)
		}
	}
	if len(ev.Records) > 0 && len(internal) == len(ev.Records) {
		return events.SQSEventResponse{}, fmt.Errorf("no message of the batch could be processed: %w", errors.Join(internal...))
	}
	return resp, nil
}

func (h *Handler) handleMessage(ctx context.Context, msg events.SQSMessage) error {
	var job herald.Job
	if err := json.Unmarshal([]byte(msg.Body), &job); err != nil || job.ProjectID == "" || job.CallID == "" {
		// Never deliverable: let the redrive policy move it to the DLQ,
		// where it is counted and alarmed on.
		h.log.ErrorContext(ctx, "malformed delivery message", "message_id", msg.MessageId)
		return fmt.Errorf("malformed message %s", msg.MessageId)
	}
	return h.deliver(ctx, job)
}

// deliver makes the attempt a job names, if it is still wanted.
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

// attempt sends a claimed attempt and records it.
func (h *Handler) attempt(ctx context.Context, job herald.Job, c *herald.Call, leaseID string) error {
	// Stored times have milliseconds; the attempt's start is the same
	// instant everywhere it is recorded.
	started := h.clock.Now().Truncate(time.Millisecond)
	trigger := job.Trigger
	autoRetries := c.AttemptedAutoRetries
	if trigger != herald.TriggerManual {
		autoRetries = job.Retry
	}
	att := herald.Attempt{Number: c.AttemptCount, Trigger: trigger, StartedAt: started}

	hook, err := h.store.GetWebhook(ctx, c.ProjectID, c.WebhookID)
	var result sender.Result
	var sent bool
	switch {
	case herald.ErrorCode(err) == herald.ENOTFOUND:
		att.ErrorKind, att.Error = herald.ErrKindNoWebhook, "the webhook was deleted; the call is not sent"
	case err != nil:
		return err // the lease runs out and the message comes back
	case !hook.Enabled:
		att.ErrorKind, att.Error = herald.ErrKindDisabled, "the webhook is disabled; the call is not sent"
	default:
		req, rerr := herald.RenderRequest(hook, c, autoRetries)
		var renderErr *herald.RenderError
		switch {
		case errors.As(rerr, &renderErr):
			att.ErrorKind, att.Error = renderErr.Kind, renderErr.Msg
		case rerr != nil:
			return rerr
		case h.sign(hook, c, req, started) != nil:
			// Unsigned, a receiver that verifies would drop it, and one
			// that does not would trust it: it is not sent at all.
			att.ErrorKind, att.Error = herald.ErrKindSigning, "the webhook's signing secret cannot be used; rotate it"
			h.log.ErrorContext(ctx, "webhook has an unusable signing secret", "project", c.ProjectID, "webhook_id", hook.ID, "call_id", c.ID)
		default:
			c.RequestURL = req.URL
			c.RequestHeaders = herald.MaskHeaders(req.Header)
			c.RequestPayload, c.RequestPayloadTruncated = capString(req.Body, herald.MaxStoredRequestBody)
			result = h.sender.Send(ctx, sender.Request{URL: req.URL, Header: req.Header, Body: req.Body})
			sent = true
			att.Success = result.Success
			att.ErrorKind, att.Error = result.ErrorKind, result.Error
			att.DurationMS = result.Duration.Milliseconds()
			if result.Status != 0 {
				status := result.Status
				att.ResponseStatus = &status
			}
		}
	}

	if sent {
		c.LastSentAt = &started
		c.ResponseStatus = att.ResponseStatus
		c.ResponseHeaders = nil
		c.ResponsePayload = nil
		c.ResponsePayloadTruncated = false
		if result.Status != 0 {
			c.ResponseHeaders = flatten(result.Header)
			body, _ := capString(result.Body, herald.MaxStoredResponseBody)
			c.ResponsePayload = &body
			c.ResponsePayloadTruncated = result.BodyTruncated
		}
	}
	c.Attempts = append(c.Attempts, att)
	rec := h.schedule(c, hook, trigger, job.Retry, att, herald.RetryAfterTime(started.Add(result.Duration), result.RetryAfter))
	if trigger == herald.TriggerManual {
		rec.ServedResend = job.ResendID
	}

	if err := h.store.RecordAttempt(ctx, c, leaseID, rec); err != nil {
		if herald.ErrorCode(err) == herald.ECONFLICT {
			// We ran past the lease and another attempt took over; it
			// records its own outcome.
			h.log.WarnContext(ctx, "attempt outran its lease", "project", c.ProjectID, "call_id", c.ID)
			return nil
		}
		return err
	}
	h.logAttempt(ctx, c, att)
	if c.NextAuto != nil && !rec.Park && trigger != herald.TriggerManual && c.Status == herald.StatusRescheduled {
		next := herald.Job{ProjectID: c.ProjectID, CallID: c.ID, Trigger: herald.TriggerAuto, Retry: *c.NextAuto}
		if err := h.queue.Send(ctx, next, c.NextRetryAt.Sub(h.clock.Now())); err != nil {
			// The message comes back and healSchedule queues the retry.
			return fmt.Errorf("queue retry %d of call %s: %w", next.Retry, c.ID, err)
		}
	}
	return nil
}

// schedule sets the call's status and next retry after an attempt, and says
// whether the retry is parked. Automatic attempts follow the retry schedule;
// a manual resend that succeeds ends it, one that fails leaves it as it was.
func (h *Handler) schedule(c *herald.Call, hook *herald.Webhook, trigger string, retry int, att herald.Attempt, notBefore time.Time) herald.Recording {
	now := h.clock.Now()
	switch {
	case att.Success:
		c.Status, c.NextAuto, c.NextRetryAt = herald.StatusSuccess, nil, nil
		if trigger != herald.TriggerManual {
			c.AttemptedAutoRetries = retry
		}
		return herald.Recording{}
	case trigger == herald.TriggerManual:
		if c.NextAuto != nil && c.NextRetryAt == nil {
			// Never attempted: the first attempt is still due, on its way.
			c.Status = herald.StatusPending
			return herald.Recording{}
		}
		if c.NextAuto != nil {
			c.Status = herald.StatusRescheduled
			return herald.Recording{Park: c.Parked}
		}
		c.Status = herald.StatusFailed
		return herald.Recording{}
	}
	c.AttemptedAutoRetries = retry
	c.NextAuto, c.NextRetryAt = nil, nil
	c.Status = herald.StatusFailed
	final := att.ErrorKind == herald.ErrKindNoWebhook || att.ErrorKind == herald.ErrKindDisabled
	if hook == nil || !hook.AutoRetry || final {
		return herald.Recording{}
	}
	due, ok := herald.NextRetry(retry, att.StartedAt, notBefore)
	if !ok || !herald.RetryBeforeExpiry(due, c.ExpiresAt) {
		// The schedule is done, or its next retry would come after the
		// call's retention (a receiver's Retry-After can push it there).
		return herald.Recording{}
	}
	next := retry + 1
	c.Status, c.NextAuto, c.NextRetryAt = herald.StatusRescheduled, &next, &due
	return herald.Recording{Park: due.Sub(now) > maxQueueDelay}
}

// sign adds the Standard Webhooks headers: the call id as webhook-id (the
// same on every attempt, so receivers can drop duplicates), this attempt's
// time, and a signature with each valid secret. A secret that cannot be
// parsed is an error: the call is not sent unsigned.
func (h *Handler) sign(hook *herald.Webhook, c *herald.Call, req *herald.OutgoingRequest, at time.Time) error {
	var keys [][]byte
	for _, s := range []string{hook.Secret.Current, hook.Secret.Previous} {
		if s == "" || (s == hook.Secret.Previous && !at.Before(hook.Secret.PreviousExpiresAt)) {
			continue
		}
		key, err := signing.ParseSecret(s)
		if err != nil {
			return fmt.Errorf("signing secret of webhook %s: %w", hook.ID, err)
		}
		keys = append(keys, key)
	}
	req.Header.Set("webhook-id", c.ID)
	req.Header.Set("webhook-timestamp", fmt.Sprint(at.Unix()))
	if len(keys) > 0 {
		req.Header.Set("webhook-signature", signing.SignatureHeader(keys, c.ID, at, req.Body))
	}
	return nil
}

func (h *Handler) logAttempt(ctx context.Context, c *herald.Call, att herald.Attempt) {
	level := slog.LevelInfo
	if !att.Success {
		level = slog.LevelWarn
	}
	status := 0
	if att.ResponseStatus != nil {
		status = *att.ResponseStatus
	}
	h.log.Log(ctx, level, "attempt",
		"project", c.ProjectID, "webhook_id", c.WebhookID, "call_id", c.ID,
		"attempt", att.Number, "trigger", att.Trigger, "success", att.Success,
		"response_status", status, "error_kind", att.ErrorKind,
		"call_status", string(c.Status), "duration_ms", att.DurationMS)
}

// sweepAhead is how far ahead the sweeper looks for parked retries. With a
// sweep a minute, every parked retry is queued at least once, with its exact
// delay, before it is due.
const sweepAhead = 14 * time.Minute

// A sweep's work is bounded, so that an invocation never runs into its
// timeout half way through a page (which would queue that page again next
// time): at most maxSweepRetries retries, read sweepPage at a time from each
// due shard in parallel, sent ten per SendMessageBatch and unparked
// sweepParallel at a time; and it starts no page with less than sweepMargin
// of the invocation left. On AWS's latencies (about 10 ms a batch send, 5 ms
// an update) a full sweep takes a few seconds: a backlog of 20,000 retries
// due in the same minute is on the queue within two sweeps
// (TestSweepWorksOffABacklog).
const (
	maxSweepRetries = 10000
	sweepPage       = 500
	sweepParallel   = 16
	sweepMargin     = 5 * time.Second
)

// Sweep moves parked retries that are due within sweepAhead onto the queue,
// each with the delay that makes it arrive on time. It returns how many it
// queued.
func (h *Handler) Sweep(ctx context.Context) (int, error) {
	until := h.clock.Now().Add(sweepAhead)
	var budget, queued atomic.Int64
	budget.Store(maxSweepRetries)
	g, gctx := errgroup.WithContext(ctx)
	for shard := range h.store.DueShards() {
		g.Go(guard.Func(func() error {
			n, err := h.sweepShard(gctx, shard, until, &budget)
			queued.Add(int64(n))
			return err
		}))
	}
	err := g.Wait()
	if n := queued.Load(); n > 0 {
		h.log.InfoContext(ctx, "sweep", "queued", n)
	}
	return int(queued.Load()), err
}

// sweepShard works through one due shard page by page, while the budget and
// the invocation's time last.
func (h *Handler) sweepShard(ctx context.Context, shard int, until time.Time, budget *atomic.Int64) (int, error) {
	queued := 0
	var after *herald.ParkedRetry
	for {
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < sweepMargin {
			return queued, nil
		}
		want := min(int64(sweepPage), budget.Load())
		if want <= 0 {
			return queued, nil
		}
		page, err := h.store.DueRetries(ctx, shard, until, after, int(want))
		if err != nil || len(page) == 0 {
			return queued, err
		}
		// Take this page's share of the budget; another shard may have
		// taken some meanwhile.
		if left := budget.Add(-int64(len(page))); left < 0 {
			page = page[:max(0, len(page)+int(left))]
			budget.Store(0)
			if len(page) == 0 {
				return queued, nil
			}
		}
		n, err := h.queueParked(ctx, page)
		queued += n
		if err != nil {
			return queued, err
		}
		after = &page[len(page)-1]
	}
}

// queueParked sends a page of parked retries, ten per batch, and unparks
// each batch once it is on the queue.
func (h *Handler) queueParked(ctx context.Context, page []herald.ParkedRetry) (int, error) {
	var queued atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(sweepParallel)
	for start := 0; start < len(page); start += 10 {
		batch := page[start:min(start+10, len(page))]
		g.Go(guard.Func(func() error {
			now := h.clock.Now()
			jobs := make([]herald.DelayedJob, len(batch))
			for i, r := range batch {
				jobs[i] = herald.DelayedJob{
					Job:   herald.Job{ProjectID: r.ProjectID, CallID: r.CallID, Trigger: herald.TriggerAuto, Retry: r.Retry},
					Delay: r.Due.Sub(now),
				}
			}
			if err := h.queue.SendDelayed(gctx, jobs); err != nil {
				return fmt.Errorf("queue parked retries: %w", err)
			}
			queued.Add(int64(len(batch)))
			for _, r := range batch {
				// Were this to fail, the retry stays parked and the next
				// sweep queues it again; the claim drops the copy.
				if err := h.store.Unpark(gctx, r); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	err := g.Wait()
	return int(queued.Load()), err
}

func newLeaseID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// capString keeps the first n bytes of b as valid UTF-8 (DynamoDB strings
// must be), replacing what is not.
func capString(b []byte, n int) (string, bool) {
	truncated := len(b) > n
	if truncated {
		b = b[:n]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), truncated
}

func flatten(h map[string][]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		if len(vs) > 0 {
			out[k] = strings.ToValidUTF8(vs[0], "\uFFFD")
		}
	}
	return out
}
