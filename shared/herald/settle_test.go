package herald

import (
	"testing"
	"time"
)

// TestScheduleFollowsDatoCMS walks one call through every automatic attempt
// failing, with the clock at each attempt's time, and checks each retry's
// due time and whether it goes on the queue or is parked.
func TestSettleFollowsDatoCMS(t *testing.T) {
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	at := start
	hook := &Webhook{AutoRetry: true}
	c := &Call{}
	wantDelays := []time.Duration{2 * time.Minute, 6 * time.Minute, 30 * time.Minute, time.Hour, 5 * time.Hour, 24 * time.Hour, 48 * time.Hour}
	wantParked := []bool{false, false, true, true, true, true, true}
	for retry := 0; retry <= 7; retry++ {
		att := Attempt{StartedAt: at, ErrorKind: ErrKindHTTPStatus}
		trigger := TriggerAuto
		if retry == 0 {
			trigger = TriggerFirst
		}
		rec := c.Settle(att, hook, trigger, retry, time.Time{}, at, "")
		if c.AttemptedAutoRetries != retry {
			t.Errorf("after attempt %d: attempted_auto_retries = %d; want %d", retry, c.AttemptedAutoRetries, retry)
		}
		if retry == 7 {
			if c.Status != StatusFailed || c.NextAuto != nil || c.NextRetryAt != nil {
				t.Errorf("after the last retry: status %s, next %v at %v; want failed, none", c.Status, c.NextAuto, c.NextRetryAt)
			}
			break
		}
		if c.Status != StatusRescheduled || c.NextAuto == nil || *c.NextAuto != retry+1 {
			t.Fatalf("after attempt %d: status %s next %v; want rescheduled, %d", retry, c.Status, c.NextAuto, retry+1)
		}
		if got := c.NextRetryAt.Sub(at); got != wantDelays[retry] {
			t.Errorf("retry %d due after %v; want %v", retry+1, got, wantDelays[retry])
		}
		if rec.Park != wantParked[retry] {
			t.Errorf("retry %d parked = %v; want %v", retry+1, rec.Park, wantParked[retry])
		}
		at = *c.NextRetryAt
	}
	if total := at.Sub(start); total != 2*time.Minute+6*time.Minute+30*time.Minute+time.Hour+5*time.Hour+24*time.Hour+48*time.Hour {
		t.Errorf("the schedule spans %v", total)
	}
}

func TestSettleOutcomes(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	two := 2
	due := now.Add(time.Hour)
	tests := map[string]struct {
		call       Call
		hook       *Webhook
		trigger    string
		retry      int
		att        Attempt
		retryAfter time.Duration
		wantStatus Status
		wantNext   *int
		wantDelay  time.Duration
	}{
		"first success": {hook: &Webhook{AutoRetry: true}, trigger: TriggerFirst,
			att: Attempt{Success: true, StartedAt: now}, wantStatus: StatusSuccess},
		"no auto retry": {hook: &Webhook{AutoRetry: false}, trigger: TriggerFirst,
			att: Attempt{StartedAt: now, ErrorKind: ErrKindTimeout}, wantStatus: StatusFailed},
		"retry-after pushes later": {hook: &Webhook{AutoRetry: true}, trigger: TriggerFirst,
			att: Attempt{StartedAt: now, ErrorKind: ErrKindHTTPStatus}, retryAfter: 10 * time.Minute,
			wantStatus: StatusRescheduled, wantNext: ptr(1), wantDelay: 10 * time.Minute},
		"retry-after never earlier": {hook: &Webhook{AutoRetry: true}, trigger: TriggerFirst,
			att: Attempt{StartedAt: now, ErrorKind: ErrKindHTTPStatus}, retryAfter: 5 * time.Second,
			wantStatus: StatusRescheduled, wantNext: ptr(1), wantDelay: 2 * time.Minute},
		"deleted webhook ends it": {hook: nil, trigger: TriggerFirst,
			att: Attempt{StartedAt: now, ErrorKind: ErrKindNoWebhook}, wantStatus: StatusFailed},
		"disabled webhook ends it": {hook: &Webhook{AutoRetry: true}, trigger: TriggerFirst,
			att: Attempt{StartedAt: now, ErrorKind: ErrKindDisabled}, wantStatus: StatusFailed},
		"manual success stops retries": {call: Call{Status: StatusRescheduled, NextAuto: &two, NextRetryAt: &due, AttemptedAutoRetries: 1},
			hook: &Webhook{AutoRetry: true}, trigger: TriggerManual,
			att: Attempt{Success: true, StartedAt: now}, wantStatus: StatusSuccess},
		"manual failure keeps the schedule": {call: Call{Status: StatusRescheduled, NextAuto: &two, NextRetryAt: &due, AttemptedAutoRetries: 1},
			hook: &Webhook{AutoRetry: true}, trigger: TriggerManual,
			att: Attempt{StartedAt: now, ErrorKind: ErrKindRefused}, wantStatus: StatusRescheduled, wantNext: ptr(2), wantDelay: time.Hour},
		// Issue 10, defect 7: a retry that would run after the call
		// expires is not scheduled (TTL would delete it first).
		"retry after expiry is not made": {call: Call{ExpiresAt: now.Add(4 * time.Hour)}, hook: &Webhook{AutoRetry: true},
			trigger: TriggerAuto, retry: 4, att: Attempt{StartedAt: now, ErrorKind: ErrKindHTTPStatus},
			wantStatus: StatusFailed},
		"retry pushed past expiry is not made": {call: Call{ExpiresAt: now.Add(24 * time.Hour)}, hook: &Webhook{AutoRetry: true},
			trigger: TriggerFirst, att: Attempt{StartedAt: now, ErrorKind: ErrKindHTTPStatus}, retryAfter: 47 * time.Hour,
			wantStatus: StatusFailed},
		"retry before expiry is made": {call: Call{ExpiresAt: now.Add(24 * time.Hour)}, hook: &Webhook{AutoRetry: true},
			trigger: TriggerAuto, retry: 4, att: Attempt{StartedAt: now, ErrorKind: ErrKindHTTPStatus},
			wantStatus: StatusRescheduled, wantNext: ptr(5), wantDelay: 5 * time.Hour},
		// A failed resend of a call never attempted leaves it pending: its
		// first attempt is still due, and nothing is scheduled (issue 10).
		"manual failure before the first attempt": {call: Call{Status: StatusPending, NextAuto: ptr(0)},
			hook: &Webhook{AutoRetry: true}, trigger: TriggerManual,
			att: Attempt{StartedAt: now, ErrorKind: ErrKindRefused}, wantStatus: StatusPending, wantNext: ptr(0)},
		"manual failure of a finished call": {call: Call{Status: StatusSuccess},
			hook: &Webhook{AutoRetry: true}, trigger: TriggerManual,
			att: Attempt{StartedAt: now, ErrorKind: ErrKindRefused}, wantStatus: StatusFailed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := tc.call
			before := c.AttemptedAutoRetries
			c.Settle(tc.att, tc.hook, tc.trigger, tc.retry, RetryAfterTime(now, tc.retryAfter), now, "")
			if c.Status != tc.wantStatus {
				t.Errorf("status = %s; want %s", c.Status, tc.wantStatus)
			}
			switch {
			case tc.wantNext == nil && c.NextAuto != nil:
				t.Errorf("next retry %d scheduled; want none", *c.NextAuto)
			case tc.wantNext != nil && (c.NextAuto == nil || *c.NextAuto != *tc.wantNext):
				t.Errorf("next retry = %v; want %d", c.NextAuto, *tc.wantNext)
			case tc.wantNext != nil && *tc.wantNext == 0 && c.NextRetryAt != nil:
				t.Errorf("next_retry_at %v before the first attempt; want none", c.NextRetryAt)
			case tc.wantNext != nil && *tc.wantNext > 0 && c.NextRetryAt.Sub(now) != tc.wantDelay:
				t.Errorf("due in %v; want %v", c.NextRetryAt.Sub(now), tc.wantDelay)
			}
			if tc.trigger == TriggerManual && c.AttemptedAutoRetries != before {
				t.Errorf("a manual attempt changed attempted_auto_retries from %d to %d", before, c.AttemptedAutoRetries)
			}
		})
	}
}
