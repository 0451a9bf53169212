package herald

import (
	"encoding/json"
	"time"
)

// TimeFormat is how Herald writes a time: UTC with milliseconds, as DatoCMS
// shows them ("2026-11-26T10:54:09.616Z"). Its fixed width makes the
// strings sort as the times do, in the API and in stored items alike.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// Status is where a call stands (CONTRACT §1).
type Status string

// Call statuses.
const (
	StatusPending     Status = "pending"     // not attempted yet
	StatusSuccess     Status = "success"     // the last attempt got a 2xx
	StatusFailed      Status = "failed"      // failed, and no retry is scheduled
	StatusRescheduled Status = "rescheduled" // failed; next_retry_at says when it runs again
)

// Statuses lists every status.
func Statuses() []Status {
	return []Status{StatusPending, StatusSuccess, StatusFailed, StatusRescheduled}
}

// What started an attempt.
const (
	TriggerFirst  = "first"  // the event
	TriggerAuto   = "auto"   // the retry schedule
	TriggerManual = "manual" // a resend
)

// Error kinds of a failed attempt, for people and dashboards.
const (
	ErrKindHTTPStatus = "http_status" // the receiver answered, not with a 2xx
	ErrKindRedirect   = "redirect"    // a 3xx: not followed
	ErrKindTimeout    = "timeout"
	ErrKindRefused    = "refused"
	ErrKindReset      = "reset"
	ErrKindDNS        = "dns"
	ErrKindTLS        = "tls"
	ErrKindBlocked    = "blocked"       // the address is private, loopback, ...
	ErrKindInvalidURL = "invalid_url"   // the rendered URL is not an http(s) URL
	ErrKindRender     = "render"        // the custom payload failed to render
	ErrKindSigning    = "signing"       // the webhook's signing secret cannot be used
	ErrKindDLQ        = "dead_lettered" // the job failed on every receive and went to a dead-letter queue
	ErrKindNetwork    = "network"       // any other transport error
	ErrKindNoWebhook  = "webhook_deleted"
	ErrKindDisabled   = "webhook_disabled"
)

// Limits on what a call stores, so that an item stays well under DynamoDB's
// 400 KB: the event (MaxEventBytes) plus these.
const (
	MaxStoredRequestBody  = 64 << 10
	MaxStoredResponseBody = 16 << 10
	MaxStoredAttempts     = 20 // the newest are kept
)

// Payload is the part of an event a call needs to render its request at send
// time: retries use the webhook's current template, so nothing is rendered
// when the call is created.
type Payload struct {
	EventID              string          `json:"event_id"`
	Environment          string          `json:"environment"`
	IsEnvironmentPrimary bool            `json:"is_environment_primary"`
	EventTriggeredAt     time.Time       `json:"event_triggered_at"`
	Entity               json.RawMessage `json:"entity"`
	PreviousEntity       json.RawMessage `json:"previous_entity,omitempty"`
	RelatedEntities      json.RawMessage `json:"related_entities,omitempty"`
}

// Call is one webhook's delivery of one event, with every attempt at it.
type Call struct {
	ID         string
	ProjectID  string
	WebhookID  string
	EntityType string
	EventType  string
	EventID    string
	CreatedAt  time.Time
	// Payload is the event's payload: stored once per event, not per call,
	// and loaded only where a request is rendered (an attempt, or showing
	// the default payload a call sent).
	Payload Payload

	Status               Status
	AttemptedAutoRetries int
	LastSentAt           *time.Time
	NextRetryAt          *time.Time

	// The request and response of the latest attempt.
	RequestURL               string
	RequestHeaders           map[string]string
	RequestPayload           string
	RequestPayloadTruncated  bool
	ResponseStatus           *int
	ResponseHeaders          map[string]string
	ResponsePayload          *string
	ResponsePayloadTruncated bool

	Attempts  []Attempt
	ExpiresAt time.Time

	// Scheduling. NextAuto is the number of retries done before the
	// automatic attempt that is due next (0: the first attempt), nil when
	// none is due. ResendID names a manual resend waiting to be sent.
	NextAuto *int
	ResendID string
	// CustomBody says the latest attempt sent a custom payload, which is
	// stored as RequestPayload; otherwise it sent the default payload,
	// which is rendered again from the event when shown, not stored.
	CustomBody bool
	// Parked says the next retry waits in storage for the sweeper rather
	// than on the queue.
	Parked bool
	// AttemptCount counts every attempt ever claimed, including one under
	// way; Attempts keeps only the newest MaxStoredAttempts.
	AttemptCount int
}

// Attempt is one send of a call.
type Attempt struct {
	Number         int       `json:"number"` // 1-based, over all attempts
	Trigger        string    `json:"trigger"`
	StartedAt      time.Time `json:"started_at"`
	DurationMS     int64     `json:"duration_ms"`
	Success        bool      `json:"success"`
	ResponseStatus *int      `json:"response_status"`
	ErrorKind      string    `json:"error_kind,omitempty"`
	Error          string    `json:"error,omitempty"`
}

// NewCall is a pending call of a webhook for an event.
func NewCall(id string, w *Webhook, ev *Event, now time.Time, retention time.Duration) *Call {
	return &Call{
		ID:         id,
		ProjectID:  ev.ProjectID,
		WebhookID:  w.ID,
		EntityType: ev.EntityType,
		EventType:  ev.EventType,
		EventID:    ev.EventID,
		CreatedAt:  now,
		Payload:    ev.Payload(),
		Status:     StatusPending,
		ExpiresAt:  now.Add(retention),
		NextAuto:   new(int),
	}
}

// FirstAttemptLease is the lease a call is created with: its first attempt
// is claimed for the first-attempt job ingest queues with it, so that job
// needs no claim of its own (one write fewer per delivered webhook), and a
// resend waits until that attempt is recorded or the lease runs out
// (FirstAttemptHold).
const FirstAttemptLease = "first"

// FirstAttemptHold is how long the first-attempt lease holds. A first-attempt
// job received within FirstAttemptFresh of the call's creation, for the first
// time, sends under it; one that comes later, again, or for an event sent
// again claims the attempt as any other job does.
const (
	FirstAttemptHold  = 5 * time.Minute
	FirstAttemptFresh = 4 * time.Minute
)

// Job is a delivery message: attempt this call now. Auto jobs name the
// attempt they are for (0 is the first, n the n-th retry) so that a
// duplicated or late message finds its attempt already claimed and does
// nothing; manual jobs name their resend request for the same reason.
//
// A first-attempt job from ingest also carries what the attempt needs (the
// call's webhook, types and event, and the event's payload document when it
// is small enough), so that the attempt reads nothing but the webhook,
// which is cached.
type Job struct {
	ProjectID string `json:"project_id"`
	CallID    string `json:"call_id"`
	Trigger   string `json:"trigger"`             // first, auto or manual
	Retry     int    `json:"retry,omitempty"`     // first and auto: retries done before this attempt
	ResendID  string `json:"resend_id,omitempty"` // manual

	WebhookID  string          `json:"webhook_id,omitempty"`
	EntityType string          `json:"entity_type,omitempty"`
	EventType  string          `json:"event_type,omitempty"`
	EventID    string          `json:"event_id,omitempty"`
	ExpiresAt  int64           `json:"expires_at,omitempty"` // the call's, epoch seconds
	Payload    json.RawMessage `json:"payload,omitempty"`    // the event's payload document
	// Replay marks a first-attempt job queued again for an event sent
	// again: its attempt may have been made, so it is claimed, not assumed.
	Replay bool `json:"replay,omitempty"`
}

// MaxJobPayload bounds the payload a first-attempt job carries: a message is
// billed per 64 KB, and a larger payload is read from the table instead.
const MaxJobPayload = 60 << 10

// DelayedJob is a job that may be received no earlier than Delay from when
// it is queued.
type DelayedJob struct {
	Job   Job
	Delay time.Duration
}

// CallRef names the call one webhook got for one event.
type CallRef struct {
	WebhookID string `json:"webhook_id"`
	CallID    string `json:"call_id"`
}

// CallQuery selects and orders a project's calls (CONTRACT §1, list calls).
// Time bounds are exclusive, as DatoCMS's gt and lt are.
type CallQuery struct {
	Offset int
	Limit  int

	IDs        []string
	WebhookID  string
	EntityType string
	EventType  string
	Status     Status

	CreatedAfter, CreatedBefore     *time.Time
	LastSentAfter, LastSentBefore   *time.Time
	NextRetryAfter, NextRetryBefore *time.Time

	OrderBy string // created_at, last_sent_at, next_retry_at or webhook_id
	Desc    bool
}

// Paging limits of the call list.
const (
	DefaultCallLimit = 30
	MaxCallLimit     = 500
	MaxCallIDsFilter = 100
)

// Bulk resend (POST /webhook_calls/bulk_resend): the most calls one request
// resends (more is refused, asking for a narrower filter), and how long the
// same request again queues nothing twice.
const (
	MaxBulkResend    = 10000
	BulkResendWindow = 5 * time.Minute
)

// Orderings of the call list.
var CallOrderings = []string{"created_at", "last_sent_at", "next_retry_at", "webhook_id"}

// UpgradeProgress is what one step of a store's upgrade did: moving what an
// older version wrote to today's layout, after a deploy.
type UpgradeProgress struct {
	Done    bool // the whole table has been seen: nothing is left to move
	Scanned int  // items read in this step
	Calls   int  // calls moved
	Tokens  int  // tokens added to the token list
}
