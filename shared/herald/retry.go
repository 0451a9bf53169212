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

// NextRetry says when the next automatic retry runs after a failed attempt at
// `at`, given how many retries were done before that attempt. retryAfter is
// the receiver's Retry-After (0 if none): it may push the retry later, never
// earlier, and never past MaxRetryAfter. ok is false when the schedule is
// exhausted.
func NextRetry(retriesDone int, at time.Time, retryAfter time.Duration) (due time.Time, ok bool) {
	if retriesDone < 0 || retriesDone >= len(RetryDelays) {
		return time.Time{}, false
	}
	delay := RetryDelays[retriesDone]
	if retryAfter > delay {
		delay = min(retryAfter, MaxRetryAfter)
	}
	return at.Add(delay), true
}
