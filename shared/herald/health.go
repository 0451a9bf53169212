package herald

import (
	"time"
)

// Operational event types: events about a webhook itself, entity type
// "webhook" (docs/endpoint-health.md). Herald raises them; the CMS cannot.
const (
	OpFailing   = "failing"   // FailingAfter attempts in a row failed
	OpExhausted = "exhausted" // a call used up its automatic attempts without a success
	OpDisabled  = "disabled"  // Herald disabled the webhook (auto-disable)
	OpRecovered = "recovered" // the first success after a reported incident
	OpPing      = "ping"      // a test send, to the webhook itself only
)

// FailingAfter is how many failed attempts in a row make a webhook failing:
// the attempt that makes the streak this long raises `failing`.
const FailingAfter = 4

// DefaultAutoDisableAfter is how long every attempt of a webhook must have
// failed before Herald disables it (AutoDisableAfterHours, 120 by default).
const DefaultAutoDisableAfter = 120 * time.Hour

// Values of a webhook's disabled_reason.
const (
	DisabledAuto   = "auto_disabled" // Herald disabled it: every attempt failed for AutoDisableAfterHours
	DisabledManual = "manual"        // someone set enabled: false
)

// IsOperational reports whether a call carries an operational event. Its
// outcome does not count toward its webhook's health and raises no
// operational event: failures of operational calls cannot start a storm.
func (c *Call) IsOperational() bool { return c.EntityType == EntityWebhook }

// IsPing reports whether a call is a test send: it is sent even to a
// disabled webhook, and never retried automatically.
func (c *Call) IsPing() bool { return c.EntityType == EntityWebhook && c.EventType == OpPing }

// CountsForHealth reports whether an attempt says something about the
// webhook's endpoint: operational calls do not count, and neither do
// attempts Herald did not make because of its own state (the webhook was
// deleted or disabled, the job was dead-lettered). A request that could not
// be rendered or signed does count: every call of the webhook fails alike.
func CountsForHealth(c *Call, att Attempt) bool {
	if c.IsOperational() {
		return false
	}
	switch att.ErrorKind {
	case ErrKindNoWebhook, ErrKindDisabled, ErrKindDLQ:
		return false
	}
	return true
}

// ExhaustedBy reports whether a settled attempt left its call without a
// success and without an automatic attempt to come: the retry schedule is
// used up (or was never on), the call is failed. A resend that fails leaves
// the schedule as it was, so it exhausts nothing.
func ExhaustedBy(c *Call, att Attempt, trigger string) bool {
	return trigger != TriggerManual && !att.Success && c.Status == StatusFailed && CountsForHealth(c, att)
}

// HealthState is a webhook's health bookkeeping as the store holds it: the
// current failure streak, the incident it belongs to, what was raised for
// them, and counts per hour of what is not derived from the activity log.
//
// An incident opens with the first failure of a streak and closes with the
// first success after it; re-enabling a webhook ends its streak but not its
// incident, so that the success that follows still raises `recovered`.
type HealthState struct {
	ConsecutiveFailures int
	StreakStart         time.Time // failing_since; zero when the last attempt succeeded
	Incident            time.Time // when the open incident began; zero when none is open
	Reported            bool      // failing, exhausted or disabled was raised during the incident
	FailingRaisedFor    time.Time // the streak `failing` was raised for
	ExhaustedHour       time.Time // the hour `exhausted` was last raised in
	LastSuccess         time.Time // the newest success the store recorded (not first attempts)
	LastFailure         time.Time
	// RecoveredDue is the start of a closed incident whose `recovered`
	// could not be raised when it closed; the next success raises it.
	RecoveredDue time.Time
	// Hours counts, per UTC hour, the failures and the successes that are
	// not first attempts (first-attempt successes are counted from the
	// activity log, so that they cost no write).
	Hours map[time.Time]HourCounts
}

// HourCounts are the attempts of one hour.
type HourCounts struct {
	Successes int
	Failures  int
}

// FailingDue reports whether the streak is long enough to raise `failing`
// and `failing` was not raised for it yet.
func (s HealthState) FailingDue() bool {
	return s.ConsecutiveFailures >= FailingAfter && !s.StreakStart.IsZero() && !s.FailingRaisedFor.Equal(s.StreakStart)
}

// ExhaustedDue reports whether `exhausted` may be raised in the hour of at:
// at most once per webhook per hour.
func (s HealthState) ExhaustedDue(at time.Time) bool {
	return !s.ExhaustedHour.Equal(Hour(at))
}

// AutoDisableDue reports whether a webhook whose attempt failed at now must
// be disabled: every attempt since the streak began failed, for at least
// window. A window of 0 never disables.
func (s HealthState) AutoDisableDue(window time.Duration, now time.Time) bool {
	return window > 0 && !s.StreakStart.IsZero() && now.Sub(s.StreakStart) >= window
}

// Hour is the UTC hour that holds t.
func Hour(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// HealthWindow is how far health's counts reach back: the current hour and
// the 23 before it, the hours the admin page's chart shows.
const HealthWindow = 24 * time.Hour

// WindowStart is the first hour of the health window that holds now.
func WindowStart(now time.Time) time.Time { return Hour(now).Add(-HealthWindow + time.Hour) }

// Health is a webhook's health as the API shows it.
type Health struct {
	LastSuccessAt       *time.Time
	FailingSince        *time.Time
	ConsecutiveFailures int
	Successes24h        int
	Failures24h         int
	Hours               []HealthHour // the window's 24 hours, oldest first
}

// HealthHour is one hour of the health window.
type HealthHour struct {
	Start     time.Time
	Successes int
	Failures  int
}

// FirstSuccesses are the first-attempt successes of one webhook, read from
// the activity log: how many per hour, and when the newest was.
type FirstSuccesses struct {
	Hours  map[time.Time]int
	Newest time.Time
}

// BuildHealth puts a webhook's health together from its stored state and
// its first-attempt successes, for the window that holds now.
func BuildHealth(st HealthState, firsts FirstSuccesses, now time.Time) Health {
	h := Health{ConsecutiveFailures: st.ConsecutiveFailures, Hours: make([]HealthHour, 0, 24)}
	if !st.StreakStart.IsZero() {
		t := st.StreakStart
		h.FailingSince = &t
	}
	last := st.LastSuccess
	if firsts.Newest.After(last) {
		last = firsts.Newest
	}
	if !last.IsZero() {
		h.LastSuccessAt = &last
	}
	for hour := WindowStart(now); !hour.After(Hour(now)); hour = hour.Add(time.Hour) {
		c := st.Hours[hour]
		hh := HealthHour{Start: hour, Successes: c.Successes + firsts.Hours[hour], Failures: c.Failures}
		h.Successes24h += hh.Successes
		h.Failures24h += hh.Failures
		h.Hours = append(h.Hours, hh)
	}
	return h
}
