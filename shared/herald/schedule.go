package herald

import "time"

// ClaimResult says what came of claiming an attempt at a call.
type ClaimResult int

const (
	// Claimed: the attempt is ours to send and record.
	Claimed ClaimResult = iota
	// Stale: the attempt was made already or is no longer wanted (a
	// duplicate or late message); drop the message.
	Stale
	// Busy: another attempt at the call holds the lease; try again later.
	Busy
	// Gone: no such call (expired, or never written).
	Gone
)

// Recording says how to store the outcome of a claimed attempt.
type Recording struct {
	// Park puts the call's next retry (NextAuto, due at NextRetryAt) in the
	// due-retries index for the sweeper, because it is further away than a
	// queue delay reaches.
	Park bool
	// ServedResend is the id of the manual resend the attempt served: it is
	// cleared, unless another resend was asked for meanwhile.
	ServedResend string
}

// ParkedRetry is a retry waiting, in storage, until it is close enough to
// go on the queue with a delay.
type ParkedRetry struct {
	ProjectID string
	CallID    string
	Retry     int
	Due       time.Time
	Key       string // opaque to all but the store
}

// ResendOutcome says what came of asking for a call's resend within a bulk
// resend.
type ResendOutcome int

const (
	// ResendQueued: the resend is pending; queue its job.
	ResendQueued ResendOutcome = iota
	// ResendAlreadyQueued: this bulk resend queued the call already.
	ResendAlreadyQueued
	// ResendPending: another resend of the call is pending.
	ResendPending
	// ResendGone: the call is not there, or expired.
	ResendGone
)
