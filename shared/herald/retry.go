package herald

import "time"

// RetryDelays is DatoCMS's schedule: the delay before each automatic retry,
// counted from the attempt before it.
var RetryDelays = []time.Duration{
	2 * time.Minute,
	6 * time.Minute,
	30 * time.Minute,
	time.Hour,
	5 * time.Hour,
	24 * time.Hour,
	48 * time.Hour,
}

// MaxRetryAfter bounds how far a receiver's Retry-After can push a retry.
const MaxRetryAfter = 48 * time.Hour

// RetrySpan is how long the whole schedule runs after the first attempt:
// about 3.3 days.
func RetrySpan() time.Duration {
	var span time.Duration
	for _, d := range RetryDelays {
		span += d
	}
	return span
}

// Bounds on how long calls are kept (CallRetentionDays in template.yaml,
// CALL_RETENTION_DAYS in the functions). A call must outlive its retries:
// the minimum is the schedule (3.3 days) plus more than a day of margin for
// receivers that ask for a later retry. A retry that would still fall after
// the call expires is not made (RetryBeforeExpiry).
const (
	MinRetentionDays = 5
	MaxRetentionDays = 365
)

// expiryMargin keeps the last retry of a call comfortably before its TTL
// removes it, so that the outcome can still be recorded and read.
const expiryMargin = time.Hour

// RetryBeforeExpiry reports whether a retry due at due can still run and be
// recorded before a call that expires at expires is gone.
// A zero expiry is no limit.
func RetryBeforeExpiry(due, expires time.Time) bool {
	return expires.IsZero() || due.Before(expires.Add(-expiryMargin))
}

// NextRetry says when the next automatic retry runs after a failed attempt
// made at `at`, given how many retries were done before that attempt.
// notBefore is when the receiver asked to be called again (its Retry-After
// from the moment it answered; zero if it did not ask): it may push the
// retry later, never earlier. ok is false when the schedule is exhausted.
func NextRetry(retriesDone int, at, notBefore time.Time) (due time.Time, ok bool) {
	if retriesDone < 0 || retriesDone >= len(RetryDelays) {
		return time.Time{}, false
	}
	due = at.Add(RetryDelays[retriesDone])
	if notBefore.After(due) {
		due = notBefore
	}
	return due, true
}

// RetryAfterTime turns a receiver's Retry-After delay, counted from when it
// answered, into the time NextRetry takes, bounded by MaxRetryAfter.
func RetryAfterTime(answered time.Time, retryAfter time.Duration) time.Time {
	if retryAfter <= 0 {
		return time.Time{}
	}
	return answered.Add(min(retryAfter, MaxRetryAfter))
}
