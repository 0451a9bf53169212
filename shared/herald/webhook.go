package herald

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on a webhook's configuration. They are stated in docs/api.md; the API
// answers 422 naming the field when one is passed.
const (
	MaxNameLength          = 255
	MaxURLLength           = 2048
	MaxHeaders             = 50
	MaxHeaderNameLength    = 256
	MaxHeaderValueLength   = 4096
	MaxCustomPayloadLength = 64 << 10
	MaxTriggers            = 50
	MaxFilterIDs           = 500
	MaxEntityIDLength      = 128
	MaxBasicAuthLength     = 1024
)

// Webhook is a project's subscription: where to send which events, and how.
type Webhook struct {
	ID                   string
	ProjectID            string
	Name                 string
	URL                  string
	CustomPayload        *string
	Headers              map[string]string
	Events               []Trigger
	HTTPBasicUser        *string
	HTTPBasicPassword    *string
	Enabled              bool
	PayloadAPIVersion    string
	NestedItemsInPayload bool
	AutoRetry            bool

	// DisabledReason says why a disabled webhook is (DisabledAuto,
	// DisabledManual), since DisabledAt; "" and nil while it is enabled.
	DisabledReason string
	DisabledAt     *time.Time
	// Incident is when the webhook's open health incident began (zero:
	// none). Delivery reads it with the webhook, which it caches, to know
	// without a read whether a success ends an incident; the incident
	// itself is kept beside the webhook (docs/endpoint-health.md).
	Incident time.Time

	Secret    Secret
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version counts writes; updates are conditional on it so that two
	// concurrent updates are applied one after the other, never one over the
	// other.
	Version int64
}

// Trigger says which events of one entity type fire a webhook.
type Trigger struct {
	EntityType string   `json:"entity_type"`
	EventTypes []string `json:"event_types"`
	Filters    []Filter `json:"filters"` // nil is "no filter"
}

// Filter narrows a trigger to some entities; the ids are alternatives.
type Filter struct {
	EntityType string   `json:"entity_type"`
	EntityIDs  []string `json:"entity_ids"`
}

// Secret is a webhook's signing key, with the previous key kept valid for a
// while after a rotation so receivers can switch without dropping calls.
type Secret struct {
	Current           string
	Previous          string
	PreviousExpiresAt time.Time
}

// Opt is an optional attribute of an update: Set says whether the request
// carried it at all, so that "absent" and "null" differ.
type Opt[T any] struct {
	Set   bool
	Value T
}

// Some returns a set Opt.
func Some[T any](v T) Opt[T] { return Opt[T]{Set: true, Value: v} }

// WebhookInput is the attributes of a create or update request, as given.
// Create requires the attributes CONTRACT §1 marks required; update changes
// only those that are set.
type WebhookInput struct {
	Name                 Opt[string]
	URL                  Opt[string]
	CustomPayload        Opt[*string]
	Headers              Opt[map[string]string]
	Events               Opt[[]Trigger]
	HTTPBasicUser        Opt[*string]
	HTTPBasicPassword    Opt[*string]
	Enabled              Opt[bool]
	PayloadAPIVersion    Opt[string]
	NestedItemsInPayload Opt[bool]
	AutoRetry            Opt[bool]
}

// NewWebhook builds a webhook from a create request, with CONTRACT defaults
// for what is optional, and validates it.
func NewWebhook(projectID, id string, in WebhookInput, now time.Time) (*Webhook, error) {
	var problems []Problem
	require := func(set bool, field string) {
		if !set {
			problems = append(problems, Problem{field, ValidationRequired, "is required"})
		}
	}
	require(in.Name.Set, "name")
	require(in.URL.Set, "url")
	require(in.CustomPayload.Set, "custom_payload")
	require(in.Headers.Set, "headers")
	require(in.Events.Set, "events")
	require(in.HTTPBasicUser.Set, "http_basic_user")
	require(in.HTTPBasicPassword.Set, "http_basic_password")
	w := &Webhook{
		ID:                id,
		ProjectID:         projectID,
		Headers:           map[string]string{},
		Enabled:           true,
		PayloadAPIVersion: "3",
		AutoRetry:         true,
		CreatedAt:         now,
		UpdatedAt:         now,
	}
	w.apply(in)
	if !w.Enabled {
		w.DisabledReason, w.DisabledAt = DisabledManual, &now
	}
	problems = append(problems, w.problems()...)
	if err := Invalid(problems); err != nil {
		return nil, err
	}
	return w, nil
}

// Update returns a copy of w with the set attributes of in applied, validated.
func (w *Webhook) Update(in WebhookInput, now time.Time) (*Webhook, error) {
	u := *w
	u.Headers = cloneMap(w.Headers)
	u.Events = slices.Clone(w.Events)
	u.apply(in)
	switch {
	case u.ReEnables(w):
		// Enabling clears why it was disabled; the store also ends its
		// failure streak (dynamo.UpdateWebhook).
		u.DisabledReason, u.DisabledAt = "", nil
	case w.Enabled && !u.Enabled:
		u.DisabledReason, u.DisabledAt = DisabledManual, &now
	}
	u.UpdatedAt = now
	if err := Invalid(u.problems()); err != nil {
		return nil, err
	}
	return &u, nil
}

// ReEnables reports whether w, an update of old, turns it back on: its
// disabled reason is cleared and its failure streak ends, so that
// auto-disable counts a new streak from scratch.
func (w *Webhook) ReEnables(old *Webhook) bool { return w.Enabled && !old.Enabled }

func (w *Webhook) apply(in WebhookInput) {
	if in.Name.Set {
		w.Name = strings.TrimSpace(in.Name.Value)
	}
	if in.URL.Set {
		w.URL = strings.TrimSpace(in.URL.Value)
	}
	if in.CustomPayload.Set {
		w.CustomPayload = in.CustomPayload.Value
	}
	if in.Headers.Set {
		w.Headers = cloneMap(in.Headers.Value)
	}
	if in.Events.Set {
		w.Events = in.Events.Value
	}
	if in.HTTPBasicUser.Set {
		w.HTTPBasicUser = emptyToNil(in.HTTPBasicUser.Value)
	}
	if in.HTTPBasicPassword.Set {
		w.HTTPBasicPassword = emptyToNil(in.HTTPBasicPassword.Value)
	}
	if in.Enabled.Set {
		w.Enabled = in.Enabled.Value
	}
	if in.PayloadAPIVersion.Set {
		w.PayloadAPIVersion = in.PayloadAPIVersion.Value
	}
	if in.NestedItemsInPayload.Set {
		w.NestedItemsInPayload = in.NestedItemsInPayload.Value
	}
	if in.AutoRetry.Set {
		w.AutoRetry = in.AutoRetry.Value
	}
}

// problems lists everything wrong with w, field by field.
func (w *Webhook) problems() []Problem {
	var ps []Problem
	add := func(field, code, format string, args ...any) {
		ps = append(ps, Problem{field, code, fmt.Sprintf(format, args...)})
	}

	switch {
	case w.Name == "":
		add("name", ValidationRequired, "must not be blank")
	case utf8.RuneCountInString(w.Name) > MaxNameLength:
		add("name", ValidationLength, "must be at most %d characters", MaxNameLength)
	case hasControl(w.Name):
		add("name", ValidationFormat, "must not contain control characters")
	}

	if msg := urlProblem(w.URL); msg != "" {
		add("url", ValidationInvalid, "%s", msg)
	}

	if w.CustomPayload != nil {
		switch {
		case len(*w.CustomPayload) > MaxCustomPayloadLength:
			add("custom_payload", ValidationLength, "must be at most %d bytes", MaxCustomPayloadLength)
		default:
			if _, err := ParseTemplate(*w.CustomPayload); err != nil {
				add("custom_payload", ValidationFormat, "is not a valid Mustache template: %v", err)
			}
		}
	}

	ps = append(ps, headerProblems(w.Headers, w.HTTPBasicUser != nil)...)
	ps = append(ps, basicAuthProblems(w.HTTPBasicUser, w.HTTPBasicPassword)...)
	ps = append(ps, triggerProblems(w.Events)...)

	if !apiVersionPattern.MatchString(w.PayloadAPIVersion) {
		add("payload_api_version", ValidationInvalid, "must be a version number such as \"3\"")
	}
	return ps
}

var (
	apiVersionPattern = regexp.MustCompile(`^[1-9][0-9]?$`)
	// mustacheTag matches one Mustache tag, so a URL template can be checked
	// as a URL with each tag standing for a plain word.
	mustacheTag = regexp.MustCompile(`\{\{\{?[^{}]*\}?\}\}`)
)

func urlProblem(raw string) string {
	switch {
	case raw == "":
		return "must not be blank"
	case len(raw) > MaxURLLength:
		return fmt.Sprintf("must be at most %d characters", MaxURLLength)
	case hasControl(raw) || strings.ContainsAny(raw, " \t"):
		return "must not contain spaces or control characters"
	}
	if _, err := ParseTemplate(raw); err != nil {
		return fmt.Sprintf("is not a valid Mustache template: %v", err)
	}
	u, err := url.Parse(mustacheTag.ReplaceAllString(raw, "x"))
	if err != nil {
		return "is not a valid URL"
	}
	switch {
	case !u.IsAbs():
		return "must be an absolute URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "must use http or https"
	case u.Host == "" || u.Hostname() == "":
		return "must name a host"
	case u.User != nil:
		return "must not carry credentials; use http_basic_user and http_basic_password"
	}
	return ""
}

// reservedHeaders are set by Herald or by HTTP itself on every call; a webhook
// may not set them.
var reservedHeaders = []string{
	"host", "content-length", "transfer-encoding", "connection", "keep-alive",
	"upgrade", "te", "trailer", "expect", "proxy-authorization", "proxy-connection",
	"webhook-id", "webhook-timestamp", "webhook-signature",
}

func headerProblems(headers map[string]string, basicAuth bool) []Problem {
	var ps []Problem
	if len(headers) > MaxHeaders {
		ps = append(ps, Problem{"headers", ValidationLength, fmt.Sprintf("must have at most %d entries", MaxHeaders)})
	}
	seen := map[string]string{}
	names := make([]string, 0, len(headers))
	for name := range headers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		value := headers[name]
		field := "headers." + name
		lower := strings.ToLower(name)
		switch {
		case name == "" || len(name) > MaxHeaderNameLength || !isToken(name):
			ps = append(ps, Problem{field, ValidationFormat, "header name must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~)"})
			continue
		case slices.Contains(reservedHeaders, lower) || strings.HasPrefix(lower, "proxy-"):
			ps = append(ps, Problem{field, ValidationInvalid, fmt.Sprintf("%s is set by Herald and cannot be overridden", name)})
		case lower == "authorization" && basicAuth:
			ps = append(ps, Problem{field, ValidationInvalid, "conflicts with http_basic_user; use one or the other"})
		}
		if other, dup := seen[lower]; dup {
			ps = append(ps, Problem{field, ValidationUniqueness, fmt.Sprintf("repeats header %s (names are case-insensitive)", other)})
		}
		seen[lower] = name
		switch {
		case strings.ContainsAny(value, "\r\n\x00"):
			ps = append(ps, Problem{field, ValidationFormat, "header value must not contain CR, LF or NUL"})
		case len(value) > MaxHeaderValueLength:
			ps = append(ps, Problem{field, ValidationLength, fmt.Sprintf("header value must be at most %d bytes", MaxHeaderValueLength)})
		case hasControl(strings.ReplaceAll(value, "\t", "")):
			ps = append(ps, Problem{field, ValidationFormat, "header value must not contain control characters"})
		}
	}
	return ps
}

func basicAuthProblems(user, password *string) []Problem {
	var ps []Problem
	if user != nil {
		switch {
		case strings.Contains(*user, ":"):
			ps = append(ps, Problem{"http_basic_user", ValidationFormat, "must not contain a colon"})
		case len(*user) > MaxBasicAuthLength || hasControl(*user):
			ps = append(ps, Problem{"http_basic_user", ValidationFormat, "must be printable and at most 1024 bytes"})
		}
	}
	if password != nil {
		switch {
		case user == nil:
			ps = append(ps, Problem{"http_basic_password", ValidationInvalid, "needs http_basic_user"})
		case len(*password) > MaxBasicAuthLength || hasControl(*password):
			ps = append(ps, Problem{"http_basic_password", ValidationFormat, "must be printable and at most 1024 bytes"})
		}
	}
	return ps
}

func triggerProblems(triggers []Trigger) []Problem {
	var ps []Problem
	add := func(field, code, format string, args ...any) {
		ps = append(ps, Problem{field, code, fmt.Sprintf(format, args...)})
	}
	if len(triggers) == 0 {
		add("events", ValidationRequired, "must list at least one trigger")
		return ps
	}
	if len(triggers) > MaxTriggers {
		add("events", ValidationLength, "must list at most %d triggers", MaxTriggers)
	}
	for i, t := range triggers {
		at := fmt.Sprintf("events[%d]", i)
		if !IsEntityType(t.EntityType) {
			add(at+".entity_type", ValidationEnum, "unknown entity type %q; one of %s", t.EntityType, strings.Join(EntityTypes(), ", "))
			continue
		}
		if len(t.EventTypes) == 0 {
			add(at+".event_types", ValidationRequired, "must list at least one event type")
		}
		for j, ev := range t.EventTypes {
			if !IsEventType(t.EntityType, ev) {
				add(fmt.Sprintf("%s.event_types[%d]", at, j), ValidationEnum,
					"%q is not an event of %s; one of %s", ev, t.EntityType, strings.Join(EventTypes(t.EntityType), ", "))
			}
		}
		for j, f := range t.Filters {
			fat := fmt.Sprintf("%s.filters[%d]", at, j)
			switch {
			case !slices.Contains(AllFilterTypes(), f.EntityType):
				add(fat+".entity_type", ValidationEnum, "unknown filter type %q; one of %s", f.EntityType, strings.Join(AllFilterTypes(), ", "))
				continue
			case !slices.Contains(FilterTypes(t.EntityType), f.EntityType):
				add(fat+".entity_type", ValidationInvalid, "a %s filter never holds for %s events", f.EntityType, t.EntityType)
			}
			switch {
			case len(f.EntityIDs) == 0:
				add(fat+".entity_ids", ValidationRequired, "must list at least one id")
			case len(f.EntityIDs) > MaxFilterIDs:
				add(fat+".entity_ids", ValidationLength, "must list at most %d ids", MaxFilterIDs)
			}
			for k, id := range f.EntityIDs {
				idAt := fmt.Sprintf("%s.entity_ids[%d]", fat, k)
				switch {
				case id == "" || len(id) > MaxEntityIDLength || hasControl(id):
					add(idAt, ValidationFormat, "must be a non-blank id of at most %d characters", MaxEntityIDLength)
				case f.EntityType == FilterEnvironmentType && id != EnvironmentPrimary && id != EnvironmentSandbox:
					add(idAt, ValidationEnum, "must be %q or %q", EnvironmentPrimary, EnvironmentSandbox)
				}
			}
		}
	}
	return ps
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return s != ""
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

func emptyToNil(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	return s
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	maps.Copy(out, m)
	return out
}
