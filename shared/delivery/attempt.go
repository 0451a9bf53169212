package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/metrics"
	"github.com/heraldhq/herald/shared/sender"
	"github.com/heraldhq/herald/shared/signing"
)

// attempt makes an attempt the job holds the lease of: it renders the
// request with the webhook's current settings, signs and sends it, records
// the outcome, and queues the next retry when one is due within the queue's
// reach.
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

	hook, err := h.hooks.get(ctx, c.ProjectID, c.WebhookID, started)
	var result sender.Result
	var sent bool
	switch {
	case herald.ErrorCode(err) == herald.ENOTFOUND:
		att.ErrorKind, att.Error = herald.ErrKindNoWebhook, "the webhook was deleted; the call is not sent"
	case err != nil:
		return err // the lease runs out and the message comes back
	case !hook.Enabled && !c.IsPing(): // a test send goes even to a disabled webhook
		att.ErrorKind, att.Error = herald.ErrKindDisabled, notSentDisabled(hook)
	default:
		if err := h.loadPayload(ctx, job, c); err != nil {
			return err
		}
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
			c.CustomBody = hook.CustomPayload != nil
			c.RequestPayload, c.RequestPayloadTruncated = "", false
			if c.CustomBody {
				c.RequestPayload, c.RequestPayloadTruncated = capString(req.Body, herald.MaxStoredRequestBody)
			}
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
	notBefore := herald.RetryAfterTime(started.Add(result.Duration), result.RetryAfter)
	rec := c.Settle(att, hook, trigger, job.Retry, notBefore, h.clock.Now(), job.ResendID)

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
	h.measure(c, att, sent)
	h.observe(ctx, c, att, hook, trigger)
	if c.NextAuto != nil && !rec.Park && trigger != herald.TriggerManual && c.Status == herald.StatusRescheduled {
		next := herald.Job{ProjectID: c.ProjectID, CallID: c.ID, Trigger: herald.TriggerAuto, Retry: *c.NextAuto}
		if err := h.queue.Send(ctx, next, c.NextRetryAt.Sub(h.clock.Now())); err != nil {
			// The message comes back and healSchedule queues the retry.
			return fmt.Errorf("queue retry %d of call %s: %w", next.Retry, c.ID, err)
		}
	}
	return nil
}

// measure records an attempt's metrics: its outcome, the POST's duration,
// and for a first attempt how long after its event it started.
func (h *Handler) measure(c *herald.Call, att herald.Attempt, sent bool) {
	outcome := metrics.OutcomeSuccess
	switch {
	case !sent:
		outcome = metrics.OutcomeNotSent
	case att.Success:
	case c.Status == herald.StatusRescheduled:
		outcome = metrics.OutcomeRescheduled
	default:
		outcome = metrics.OutcomeFailed
	}
	h.metrics.Count(metrics.Deliveries, outcome, 1)
	if sent {
		h.metrics.Observe(metrics.AttemptDuration, float64(att.DurationMS))
	}
	if att.Trigger == herald.TriggerFirst {
		h.metrics.Observe(metrics.EndToEndDelay, float64(att.StartedAt.Sub(c.CreatedAt).Milliseconds()))
	}
}

// loadPayload gives the call its event's payload: from the job when it
// carries it (a first attempt's, from ingest), else from the event item.
func (h *Handler) loadPayload(ctx context.Context, job herald.Job, c *herald.Call) error {
	if len(job.Payload) > 0 {
		p, err := herald.ParsePayload(job.Payload)
		if err != nil {
			return fmt.Errorf("payload of job for call %s: %w", c.ID, err)
		}
		c.Payload = p
		return nil
	}
	p, err := h.store.EventPayload(ctx, c.ProjectID, c.EventID)
	if err != nil {
		return err
	}
	c.Payload = p
	return nil
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
	req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	if len(keys) > 0 {
		req.Header.Set("webhook-signature", signing.SignatureHeader(keys, c.ID, at, req.Body))
	}
	return nil
}

func (h *Handler) logAttempt(ctx context.Context, c *herald.Call, att herald.Attempt) {
	status := 0
	if att.ResponseStatus != nil {
		status = *att.ResponseStatus
	}
	// One line per attempt, billed by the byte: a success says what it
	// must (its level says it succeeded); a failure adds its kind.
	if att.Success {
		h.log.LogAttrs(ctx, slog.LevelInfo, "attempt",
			slog.String("project", c.ProjectID), slog.String("webhook_id", c.WebhookID), slog.String("call_id", c.ID),
			slog.Int("attempt", att.Number), slog.String("trigger", att.Trigger), slog.Int("response_status", status),
			slog.String("call_status", string(c.Status)), slog.Int64("duration_ms", att.DurationMS))
		return
	}
	h.log.LogAttrs(ctx, slog.LevelWarn, "attempt",
		slog.String("project", c.ProjectID), slog.String("webhook_id", c.WebhookID), slog.String("call_id", c.ID),
		slog.Int("attempt", att.Number), slog.String("trigger", att.Trigger), slog.Int("response_status", status),
		slog.String("error_kind", att.ErrorKind), slog.String("call_status", string(c.Status)), slog.Int64("duration_ms", att.DurationMS))
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
