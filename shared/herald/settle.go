package herald

import "time"

// QueueReach is how far ahead a retry may wait on the delivery queue (SQS
// delays a message by at most 15 minutes); one due later is parked in the
// table and the sweep queues it when it comes within reach.
const QueueReach = 14 * time.Minute

// Settle is a call's state machine: after an attempt, it sets the call's
// status, its next automatic attempt and when that is due, and says how to
// record it (parked or not, and the resend it served).
//
// Automatic attempts follow DatoCMS's schedule: a success ends it; a failure
// schedules the next retry (NextRetry, pushed later by a 429's or 503's
// Retry-After, notBefore) unless the webhook's auto_retry is off, the
// webhook is gone or disabled, the call is a test send (ping), the schedule
// is done, or the retry would fall after the call expires; then the call is
// failed. A manual resend that succeeds ends the schedule; one that fails
// leaves it as it was: pending if the call was never attempted, rescheduled
// if a retry is due, failed otherwise. It does not count toward
// attempted_auto_retries_count.
func (c *Call) Settle(att Attempt, hook *Webhook, trigger string, retry int, notBefore, now time.Time, resendID string) Recording {
	rec := Recording{}
	if trigger == TriggerManual {
		rec.ServedResend = resendID
	}
	switch {
	case att.Success:
		c.Status, c.NextAuto, c.NextRetryAt = StatusSuccess, nil, nil
		if trigger != TriggerManual {
			c.AttemptedAutoRetries = retry
		}
		return rec
	case trigger == TriggerManual:
		switch {
		case c.NextAuto != nil && c.NextRetryAt == nil:
			// Never attempted: the first attempt is still due, on its way.
			c.Status = StatusPending
		case c.NextAuto != nil:
			c.Status = StatusRescheduled
			rec.Park = c.Parked
		default:
			c.Status = StatusFailed
		}
		return rec
	}
	c.AttemptedAutoRetries = retry
	c.NextAuto, c.NextRetryAt = nil, nil
	c.Status = StatusFailed
	final := att.ErrorKind == ErrKindNoWebhook || att.ErrorKind == ErrKindDisabled
	if hook == nil || !hook.AutoRetry || final || c.IsPing() {
		return rec
	}
	due, ok := NextRetry(retry, att.StartedAt, notBefore)
	if !ok || !RetryBeforeExpiry(due, c.ExpiresAt) {
		// The schedule is done, or its next retry would come after the
		// call's retention (a receiver's Retry-After can push it there).
		return rec
	}
	next := retry + 1
	c.Status, c.NextAuto, c.NextRetryAt = StatusRescheduled, &next, &due
	rec.Park = due.Sub(now) > QueueReach
	return rec
}
