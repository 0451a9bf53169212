package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/shared/herald"
)

// HealthStore is what delivery needs to keep webhooks' health
// (docs/endpoint-health.md).
type HealthStore interface {
	RecordHealthFailure(ctx context.Context, project, id string, at time.Time) (herald.HealthState, error)
	RecordHealthSuccess(ctx context.Context, project, id string, at time.Time, count bool) (herald.HealthState, error)
	MarkFailingRaised(ctx context.Context, project, id string, streak time.Time) error
	MarkExhaustedRaised(ctx context.Context, project, id string, at time.Time) error
	CloseIncident(ctx context.Context, project, id string, incident time.Time) (closed, reported bool, err error)
	SetRecoveredDue(ctx context.Context, project, id string, incident time.Time) error
	ClearRecoveredDue(ctx context.Context, project, id string, incident time.Time) error
	SetIncidentMarker(ctx context.Context, project, id string, incident time.Time) error
	ClearIncidentMarker(ctx context.Context, project, id string, incident time.Time) error
	AutoDisable(ctx context.Context, project, id string, streak, at time.Time) (bool, error)
}

// RaiseFunc ingests an operational event (ingest.Handler.Raise): matched to
// the project's webhooks but the one it is about, recorded once per event
// id, its calls queued as first attempts.
type RaiseFunc func(ctx context.Context, ev *herald.Event, subject *herald.Subject) error

// observe keeps a webhook's health once an attempt is recorded, and raises
// the operational events it calls for. A first-attempt success of a webhook
// without an open incident (its mark comes with the cached webhook) returns
// at once: it reads and writes nothing, so a healthy webhook's deliveries
// cost what they did before health existed.
//
// Its errors are logged, not returned: the attempt is recorded, and the
// webhook's next attempt mends what this one missed (a failure marks the
// incident again and re-checks what is due; a success ends the incident).
func (h *Handler) observe(ctx context.Context, c *herald.Call, att herald.Attempt, hook *herald.Webhook, trigger string) {
	if h.health == nil || hook == nil || !herald.CountsForHealth(c, att) {
		return
	}
	if att.Success && trigger == herald.TriggerFirst && hook.Incident.IsZero() {
		return
	}
	var err error
	if att.Success {
		err = h.healthSuccess(ctx, c, att, hook, trigger)
	} else {
		err = h.healthFailure(ctx, c, att, hook, trigger)
	}
	if err != nil {
		h.log.ErrorContext(ctx, "could not keep the webhook's health", "project", c.ProjectID, "webhook_id", hook.ID,
			"call_id", c.ID, "error", err)
	}
}

// healthSuccess ends the streak and, when an incident is open, closes it:
// of concurrent successes that see it open (a resend of many calls), the
// one that closes it raises `recovered`, if the incident was reported, and
// clears the webhook's mark. Should the raise fail, the incident is
// recorded as owing its `recovered` and the mark is left, so that the next
// success (which the mark makes write) raises it; the event's id makes
// raising it twice the same event.
func (h *Handler) healthSuccess(ctx context.Context, c *herald.Call, att herald.Attempt, hook *herald.Webhook, trigger string) error {
	st, err := h.health.RecordHealthSuccess(ctx, c.ProjectID, hook.ID, att.StartedAt, trigger != herald.TriggerFirst)
	if err != nil {
		return err
	}
	if st.Incident.IsZero() {
		if !st.RecoveredDue.IsZero() {
			if err := h.raise(ctx, herald.OpRecovered, hook, &st, c, st.RecoveredDue); err != nil {
				return err
			}
			if err := h.health.ClearRecoveredDue(ctx, c.ProjectID, hook.ID, st.RecoveredDue); err != nil {
				return err
			}
		}
		if !hook.Incident.IsZero() {
			return h.once(c, hook, "clear", hook.Incident, func() error {
				return h.health.ClearIncidentMarker(ctx, c.ProjectID, hook.ID, hook.Incident)
			})
		}
		return nil
	}
	closeClaim := claimKey(c, hook, "close", st.Incident)
	if !h.hooks.claim(closeClaim, h.clock.Now()) {
		return nil // another attempt of this instance is closing it
	}
	closed, reported, err := h.health.CloseIncident(ctx, c.ProjectID, hook.ID, st.Incident)
	if err != nil {
		h.hooks.release(closeClaim)
		return err
	}
	if !closed {
		return nil
	}
	if reported {
		if err := h.raise(ctx, herald.OpRecovered, hook, &st, c, st.Incident); err != nil {
			if kept := h.health.SetRecoveredDue(ctx, c.ProjectID, hook.ID, st.Incident); kept != nil {
				return errors.Join(err, kept)
			}
			return err
		}
	}
	return h.once(c, hook, "clear", st.Incident, func() error {
		return h.health.ClearIncidentMarker(ctx, c.ProjectID, hook.ID, st.Incident)
	})
}

// once makes a write to a webhook's health that every attempt of a batch
// (reading the same cached webhook) would otherwise make: the first of this
// instance makes it, then the webhook is read again.
func (h *Handler) once(c *herald.Call, hook *herald.Webhook, what string, incident time.Time, write func() error) error {
	key := claimKey(c, hook, what, incident)
	if !h.hooks.claim(key, h.clock.Now()) {
		return nil
	}
	if err := write(); err != nil {
		h.hooks.release(key)
		return err
	}
	h.hooks.forget(c.ProjectID, hook.ID)
	return nil
}

func claimKey(c *herald.Call, hook *herald.Webhook, what string, incident time.Time) string {
	return what + "\x00" + c.ProjectID + "\x00" + hook.ID + "\x00" + incident.UTC().Format(time.RFC3339Nano)
}

// healthFailure counts the failure, marks the webhook when an incident
// opens, and raises `failing` (once per streak, at FailingAfter failures in
// a row), `exhausted` (once per hour, when a call has no automatic attempt
// left) and, when every attempt failed for the auto-disable window,
// disables the webhook and raises `disabled`.
func (h *Handler) healthFailure(ctx context.Context, c *herald.Call, att herald.Attempt, hook *herald.Webhook, trigger string) error {
	at := att.StartedAt
	st, err := h.health.RecordHealthFailure(ctx, c.ProjectID, hook.ID, at)
	if err != nil {
		return err
	}
	if !st.Incident.IsZero() && !st.Incident.Equal(hook.Incident) {
		if err := h.once(c, hook, "mark", st.Incident, func() error {
			return h.health.SetIncidentMarker(ctx, c.ProjectID, hook.ID, st.Incident)
		}); err != nil {
			return err
		}
	}
	// The attempts of a batch that all see `failing` (or `exhausted`) due
	// leave it to the first of them.
	if st.FailingDue() {
		key := claimKey(c, hook, "failing", st.StreakStart)
		if h.hooks.claim(key, h.clock.Now()) {
			if err := h.raise(ctx, herald.OpFailing, hook, &st, c, at); err != nil {
				h.hooks.release(key)
				return err
			}
			if err := h.health.MarkFailingRaised(ctx, c.ProjectID, hook.ID, st.StreakStart); err != nil {
				return err
			}
		}
	}
	if herald.ExhaustedBy(c, att, trigger) && st.ExhaustedDue(at) {
		key := claimKey(c, hook, "exhausted", herald.Hour(at))
		if h.hooks.claim(key, h.clock.Now()) {
			if err := h.raise(ctx, herald.OpExhausted, hook, &st, c, at); err != nil {
				h.hooks.release(key)
				return err
			}
			if err := h.health.MarkExhaustedRaised(ctx, c.ProjectID, hook.ID, at); err != nil {
				return err
			}
		}
	}
	if hook.Enabled && st.AutoDisableDue(h.autoDisableAfter, at) {
		disabled, err := h.health.AutoDisable(ctx, c.ProjectID, hook.ID, st.StreakStart, at)
		if err != nil || !disabled {
			return err
		}
		h.hooks.forget(c.ProjectID, hook.ID)
		h.log.WarnContext(ctx, "webhook auto-disabled", "project", c.ProjectID, "webhook_id", hook.ID,
			"failing_since", st.StreakStart, "consecutive_failures", st.ConsecutiveFailures)
		off := *hook
		off.Enabled, off.DisabledReason, off.DisabledAt = false, herald.DisabledAuto, &at
		return h.raise(ctx, herald.OpDisabled, &off, &st, c, st.StreakStart)
	}
	return nil
}

// raise builds an operational event about hook and has it ingested.
func (h *Handler) raise(ctx context.Context, kind string, hook *herald.Webhook, st *herald.HealthState, c *herald.Call, key time.Time) error {
	if h.raiseEvent == nil {
		return nil
	}
	ev, subject, err := herald.NewOperationalEvent(kind, hook, st, c, key, h.clock.Now())
	if err != nil {
		return err
	}
	if err := h.raiseEvent(ctx, ev, subject); err != nil {
		return fmt.Errorf("raise %s about webhook %s: %w", kind, hook.ID, err)
	}
	h.log.InfoContext(ctx, "operational event raised", "project", hook.ProjectID, "webhook_id", hook.ID,
		"event_type", kind, "event_id", ev.EventID, "call_id", c.ID)
	return nil
}

// notSentDisabled says why a call of a disabled webhook is not sent.
func notSentDisabled(hook *herald.Webhook) string {
	if hook.DisabledReason == herald.DisabledAuto {
		return "the webhook was disabled automatically, every attempt having failed for too long; the call is not sent (re-enable the webhook, then resend)"
	}
	return "the webhook is disabled; the call is not sent"
}
