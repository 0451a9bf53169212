package herald

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// OperationalEventID names an operational event so that raising it again is
// ingesting the same event again, which creates nothing new (ingest's
// idempotency): `failing` and `exhausted` once per webhook per UTC hour,
// `disabled` once per failure streak, `recovered` once per incident, `ping`
// once per test call. key is the time that names the occurrence (the
// attempt's for failing and exhausted, the streak's or incident's start
// otherwise); ping takes the call id instead.
func OperationalEventID(kind, webhookID string, key time.Time, callID string) string {
	var k string
	switch kind {
	case OpFailing, OpExhausted:
		k = Hour(key).Format("2006010215")
	case OpPing:
		k = callID
	default:
		k = strconv.FormatInt(key.UnixMilli(), 10)
	}
	return "herald:" + kind + ":" + webhookID + ":" + k
}

// opWebhook is the webhook an operational event is about, as its entity:
// what identifies it and its state, never its secret, basic-auth
// credentials, headers (they often carry API keys) or custom payload. The
// URL is cut to its origin, since paths and queries often carry tokens
// too (a Slack webhook URL is one).
type opWebhook struct {
	ID         string              `json:"id"`
	Type       string              `json:"type"`
	Attributes opWebhookAttributes `json:"attributes"`
}

type opWebhookAttributes struct {
	Name           string     `json:"name"`
	URL            string     `json:"url"`
	Enabled        bool       `json:"enabled"`
	DisabledReason *string    `json:"disabled_reason"`
	DisabledAt     *string    `json:"disabled_at"`
	AutoRetry      bool       `json:"auto_retry"`
	Events         []opEvents `json:"events"`
	Health         opHealth   `json:"health"`
}

type opEvents struct {
	EntityType string   `json:"entity_type"`
	EventTypes []string `json:"event_types"`
}

type opHealth struct {
	FailingSince        *string `json:"failing_since"`
	ConsecutiveFailures int     `json:"consecutive_failures"`
}

// opCall is the call an operational event concerns, as a related entity:
// its state and the outcome of its latest attempt, without request or
// response (they may hold anything).
type opCall struct {
	ID         string           `json:"id"`
	Type       string           `json:"type"`
	Attributes opCallAttributes `json:"attributes"`
}

type opCallAttributes struct {
	EntityType                string  `json:"entity_type"`
	EventType                 string  `json:"event_type"`
	EventID                   string  `json:"event_id"`
	CreatedAt                 string  `json:"created_at"`
	Status                    Status  `json:"status"`
	AttemptedAutoRetriesCount int     `json:"attempted_auto_retries_count"`
	LastSentAt                *string `json:"last_sent_at"`
	NextRetryAt               *string `json:"next_retry_at"`
	ResponseStatus            *int    `json:"response_status"`
	ErrorKind                 string  `json:"error_kind,omitempty"`
}

// NewOperationalEvent builds an operational event of the given kind about
// webhook w: its entity is the webhook (see opWebhook), its related entity
// the call concerned, if any. st is the webhook's health at the time (nil
// for a ping). Match it with the Subject returned: the webhook it is about
// is never among the webhooks it goes to (Matcher.Match).
func NewOperationalEvent(kind string, w *Webhook, st *HealthState, c *Call, key, at time.Time) (*Event, *Subject, error) {
	if !IsEventType(EntityWebhook, kind) {
		return nil, nil, fmt.Errorf("%q is not an operational event type", kind)
	}
	ent := opWebhook{ID: w.ID, Type: EntityWebhook, Attributes: opWebhookAttributes{
		Name: w.Name, URL: urlOrigin(w.URL), Enabled: w.Enabled, AutoRetry: w.AutoRetry, Events: []opEvents{},
	}}
	if w.DisabledReason != "" {
		reason := w.DisabledReason
		ent.Attributes.DisabledReason = &reason
	}
	ent.Attributes.DisabledAt = optFormat(w.DisabledAt)
	for _, t := range w.Events {
		ent.Attributes.Events = append(ent.Attributes.Events, opEvents{EntityType: t.EntityType, EventTypes: t.EventTypes})
	}
	if st != nil {
		ent.Attributes.Health.ConsecutiveFailures = st.ConsecutiveFailures
		if !st.StreakStart.IsZero() {
			ent.Attributes.Health.FailingSince = optFormat(&st.StreakStart)
		}
	}
	entity, err := json.Marshal(ent)
	if err != nil {
		return nil, nil, fmt.Errorf("encode webhook %s for a %s event: %w", w.ID, kind, err)
	}
	related := []opCall{}
	callID := ""
	if c != nil {
		callID = c.ID
		oc := opCall{ID: c.ID, Type: "webhook_call", Attributes: opCallAttributes{
			EntityType: c.EntityType, EventType: c.EventType, EventID: c.EventID,
			CreatedAt: c.CreatedAt.UTC().Format(TimeFormat), Status: c.Status,
			AttemptedAutoRetriesCount: c.AttemptedAutoRetries,
			LastSentAt:                optFormat(c.LastSentAt), NextRetryAt: optFormat(c.NextRetryAt),
			ResponseStatus: c.ResponseStatus,
		}}
		if n := len(c.Attempts); n > 0 {
			oc.Attributes.ErrorKind = c.Attempts[n-1].ErrorKind
		}
		if kind != OpPing {
			related = append(related, oc)
		}
	}
	rel, err := json.Marshal(related)
	if err != nil {
		return nil, nil, fmt.Errorf("encode the call of a %s event: %w", kind, err)
	}
	ev := &Event{
		ProjectID: w.ProjectID, EventID: OperationalEventID(kind, w.ID, key, callID),
		EntityType: EntityWebhook, EventType: kind, EventTriggeredAt: at.UTC().Truncate(time.Millisecond),
		Entity: entity, RelatedEntities: rel,
	}
	return ev, &Subject{EntityType: EntityWebhook, EventType: kind, EntityID: w.ID}, nil
}

// urlOrigin is a URL (template) cut to its scheme and host: what tells a
// person which endpoint it is, without the path and query where tokens
// live.
func urlOrigin(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	return scheme + "://" + rest
}

func optFormat(t *time.Time) *string {
	if t == nil || t.IsZero() {
		return nil
	}
	s := t.UTC().Format(TimeFormat)
	return &s
}
