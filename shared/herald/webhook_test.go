package herald

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// validInput is a create request that passes; each case below breaks it in
// one way.
func validInput() WebhookInput {
	return WebhookInput{
		Name:              Some("Deploy"),
		URL:               Some("https://example.com/hook"),
		CustomPayload:     Some[*string](nil),
		Headers:           Some(map[string]string{"X-Team": "web"}),
		Events:            Some([]Trigger{{EntityType: "item", EventTypes: []string{"publish"}}}),
		HTTPBasicUser:     Some[*string](nil),
		HTTPBasicPassword: Some[*string](nil),
	}
}

func TestNewWebhookDefaults(t *testing.T) {
	w, err := NewWebhook("p1", "w1", validInput(), now)
	if err != nil {
		t.Fatalf("NewWebhook: %v", err)
	}
	if !w.Enabled || !w.AutoRetry || w.NestedItemsInPayload || w.PayloadAPIVersion != "3" {
		t.Errorf("defaults: enabled=%v auto_retry=%v nested=%v version=%q; want true, true, false, \"3\"",
			w.Enabled, w.AutoRetry, w.NestedItemsInPayload, w.PayloadAPIVersion)
	}
	if w.ProjectID != "p1" || w.ID != "w1" || !w.CreatedAt.Equal(now) {
		t.Errorf("got project %q id %q created %v", w.ProjectID, w.ID, w.CreatedAt)
	}
}

func TestNewWebhookProblems(t *testing.T) {
	tests := map[string]struct {
		change    func(*WebhookInput)
		wantField string
		wantCode  string
	}{
		"missing name":           {func(in *WebhookInput) { in.Name = Opt[string]{} }, "name", ValidationRequired},
		"blank name":             {func(in *WebhookInput) { in.Name = Some("  ") }, "name", ValidationRequired},
		"long name":              {func(in *WebhookInput) { in.Name = Some(strings.Repeat("n", 256)) }, "name", ValidationLength},
		"missing url":            {func(in *WebhookInput) { in.URL = Opt[string]{} }, "url", ValidationRequired},
		"relative url":           {func(in *WebhookInput) { in.URL = Some("/hook") }, "url", ValidationInvalid},
		"ftp url":                {func(in *WebhookInput) { in.URL = Some("ftp://example.com/x") }, "url", ValidationInvalid},
		"javascript url":         {func(in *WebhookInput) { in.URL = Some("javascript:alert(1)") }, "url", ValidationInvalid},
		"url without host":       {func(in *WebhookInput) { in.URL = Some("https:///path") }, "url", ValidationInvalid},
		"url with credentials":   {func(in *WebhookInput) { in.URL = Some("https://u:p@example.com/") }, "url", ValidationInvalid},
		"url too long":           {func(in *WebhookInput) { in.URL = Some("https://example.com/" + strings.Repeat("a", 2030)) }, "url", ValidationInvalid},
		"url with space":         {func(in *WebhookInput) { in.URL = Some("https://example.com/a b") }, "url", ValidationInvalid},
		"url bad template":       {func(in *WebhookInput) { in.URL = Some("https://example.com/{{#a}}") }, "url", ValidationInvalid},
		"missing custom_payload": {func(in *WebhookInput) { in.CustomPayload = Opt[*string]{} }, "custom_payload", ValidationRequired},
		"unclosed section":       {func(in *WebhookInput) { in.CustomPayload = Some(ptr(`{"a":"{{#entity}}"}`)) }, "custom_payload", ValidationFormat},
		"partial":                {func(in *WebhookInput) { in.CustomPayload = Some(ptr(`{{> /etc/passwd}}`)) }, "custom_payload", ValidationFormat},
		"partial in section":     {func(in *WebhookInput) { in.CustomPayload = Some(ptr(`{{#a}}{{> x}}{{/a}}`)) }, "custom_payload", ValidationFormat},
		"payload too long":       {func(in *WebhookInput) { in.CustomPayload = Some(ptr(strings.Repeat("x", MaxCustomPayloadLength+1))) }, "custom_payload", ValidationLength},
		"missing headers":        {func(in *WebhookInput) { in.Headers = Opt[map[string]string]{} }, "headers", ValidationRequired},
		"header name not token":  {func(in *WebhookInput) { in.Headers = Some(map[string]string{"X Bad": "v"}) }, "headers.X Bad", ValidationFormat},
		"header name colon":      {func(in *WebhookInput) { in.Headers = Some(map[string]string{"X:": "v"}) }, "headers.X:", ValidationFormat},
		"header host":            {func(in *WebhookInput) { in.Headers = Some(map[string]string{"Host": "evil"}) }, "headers.Host", ValidationInvalid},
		"header content-length":  {func(in *WebhookInput) { in.Headers = Some(map[string]string{"content-length": "1"}) }, "headers.content-length", ValidationInvalid},
		"header te":              {func(in *WebhookInput) { in.Headers = Some(map[string]string{"Transfer-Encoding": "chunked"}) }, "headers.Transfer-Encoding", ValidationInvalid},
		"header connection":      {func(in *WebhookInput) { in.Headers = Some(map[string]string{"Connection": "close"}) }, "headers.Connection", ValidationInvalid},
		"header signature":       {func(in *WebhookInput) { in.Headers = Some(map[string]string{"Webhook-Signature": "v1,x"}) }, "headers.Webhook-Signature", ValidationInvalid},
		"header value CR":        {func(in *WebhookInput) { in.Headers = Some(map[string]string{"X-A": "a\rb"}) }, "headers.X-A", ValidationFormat},
		"header value LF":        {func(in *WebhookInput) { in.Headers = Some(map[string]string{"X-A": "a\nX-Injected: 1"}) }, "headers.X-A", ValidationFormat},
		"header duplicate case":  {func(in *WebhookInput) { in.Headers = Some(map[string]string{"X-A": "1", "x-a": "2"}) }, "headers.x-a", ValidationUniqueness},
		"too many headers": {func(in *WebhookInput) {
			h := map[string]string{}
			for i := 0; i < 51; i++ {
				h["X-H"+strings.Repeat("a", i)] = "v"
			}
			in.Headers = Some(h)
		}, "headers", ValidationLength},
		"authorization with basic auth": {func(in *WebhookInput) {
			in.Headers = Some(map[string]string{"Authorization": "Bearer x"})
			in.HTTPBasicUser = Some(ptr("u"))
		}, "headers.Authorization", ValidationInvalid},
		"missing basic user":    {func(in *WebhookInput) { in.HTTPBasicUser = Opt[*string]{} }, "http_basic_user", ValidationRequired},
		"basic user colon":      {func(in *WebhookInput) { in.HTTPBasicUser = Some(ptr("a:b")) }, "http_basic_user", ValidationFormat},
		"password without user": {func(in *WebhookInput) { in.HTTPBasicPassword = Some(ptr("pw")) }, "http_basic_password", ValidationInvalid},
		"missing events":        {func(in *WebhookInput) { in.Events = Opt[[]Trigger]{} }, "events", ValidationRequired},
		"empty events":          {func(in *WebhookInput) { in.Events = Some([]Trigger{}) }, "events", ValidationRequired},
		"unknown entity type": {func(in *WebhookInput) {
			in.Events = Some([]Trigger{{EntityType: "record", EventTypes: []string{"create"}}})
		}, "events[0].entity_type", ValidationEnum},
		"unknown event type": {func(in *WebhookInput) {
			in.Events = Some([]Trigger{{EntityType: "item", EventTypes: []string{"explode"}}})
		}, "events[0].event_types[0]", ValidationEnum},
		"event type of another entity": {func(in *WebhookInput) {
			in.Events = Some([]Trigger{{EntityType: "upload", EventTypes: []string{"create", "publish"}}})
		}, "events[0].event_types[1]", ValidationEnum},
		"empty event types": {func(in *WebhookInput) {
			in.Events = Some([]Trigger{{EntityType: "item", EventTypes: nil}})
		}, "events[0].event_types", ValidationRequired},
		"unknown filter type": {func(in *WebhookInput) {
			in.Events = Some([]Trigger{{EntityType: "item", EventTypes: []string{"update"},
				Filters: []Filter{{EntityType: "upload", EntityIDs: []string{"1"}}}}})
		}, "events[0].filters[0].entity_type", ValidationEnum},
		"filter that never holds": {func(in *WebhookInput) {
			in.Events = Some([]Trigger{{EntityType: "upload", EventTypes: []string{"update"},
				Filters: []Filter{{EntityType: "item", EntityIDs: []string{"1"}}}}})
		}, "events[0].filters[0].entity_type", ValidationInvalid},
		"empty entity ids": {func(in *WebhookInput) {
			in.Events = Some([]Trigger{{EntityType: "item", EventTypes: []string{"update"},
				Filters: []Filter{{EntityType: "item_type", EntityIDs: []string{}}}}})
		}, "events[0].filters[0].entity_ids", ValidationRequired},
		"blank entity id": {func(in *WebhookInput) {
			in.Events = Some([]Trigger{{EntityType: "item", EventTypes: []string{"update"},
				Filters: []Filter{{EntityType: "item_type", EntityIDs: []string{""}}}}})
		}, "events[0].filters[0].entity_ids[0]", ValidationFormat},
		"bad environment type": {func(in *WebhookInput) {
			in.Events = Some([]Trigger{{EntityType: "item", EventTypes: []string{"update"},
				Filters: []Filter{{EntityType: "environment_type", EntityIDs: []string{"staging"}}}}})
		}, "events[0].filters[0].entity_ids[0]", ValidationEnum},
		"bad api version": {func(in *WebhookInput) { in.PayloadAPIVersion = Some("three") }, "payload_api_version", ValidationInvalid},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := validInput()
			tc.change(&in)
			_, err := NewWebhook("p1", "w1", in, now)
			if got := ErrorCode(err); got != EINVALID {
				t.Fatalf("error code = %q (%v); want %q", got, err, EINVALID)
			}
			problems := ErrorProblems(err)
			i := slices.IndexFunc(problems, func(p Problem) bool { return p.Field == tc.wantField })
			if i < 0 {
				t.Fatalf("problems = %v; want one on field %q", problems, tc.wantField)
			}
			if got := problems[i].Code; got != tc.wantCode {
				t.Errorf("code on %s = %s; want %s (%s)", tc.wantField, got, tc.wantCode, problems[i].Message)
			}
		})
	}
}

func TestNewWebhookAccepts(t *testing.T) {
	tests := map[string]func(*WebhookInput){
		"url template":       func(in *WebhookInput) { in.URL = Some("https://example.com/{{entity.id}}?t={{{event_type}}}") },
		"http and port":      func(in *WebhookInput) { in.URL = Some("http://example.com:8080/x") },
		"custom payload":     func(in *WebhookInput) { in.CustomPayload = Some(ptr(`{"id":"{{#entity}}{{id}}{{/entity}}"}`)) },
		"non-JSON payload":   func(in *WebhookInput) { in.CustomPayload = Some(ptr(`event={{event_type}}`)) },
		"custom auth header": func(in *WebhookInput) { in.Headers = Some(map[string]string{"Authorization": "Bearer abc"}) },
		"basic auth":         func(in *WebhookInput) { in.HTTPBasicUser = Some(ptr("u")); in.HTTPBasicPassword = Some(ptr("p w:x")) },
		"every entity": func(in *WebhookInput) {
			var ts []Trigger
			for _, e := range EntityTypes() {
				ts = append(ts, Trigger{EntityType: e, EventTypes: EventTypes(e)})
			}
			in.Events = Some(ts)
		},
		"filters": func(in *WebhookInput) {
			in.Events = Some([]Trigger{{EntityType: "item", EventTypes: []string{"update"}, Filters: []Filter{
				{EntityType: "item_type", EntityIDs: []string{"1423", "article"}},
				{EntityType: "environment_type", EntityIDs: []string{"primary"}},
			}}})
		},
		"fifty headers": func(in *WebhookInput) {
			h := map[string]string{}
			for i := 0; i < 50; i++ {
				h["X-H"+strings.Repeat("a", i)] = "v"
			}
			in.Headers = Some(h)
		},
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			in := validInput()
			change(&in)
			if _, err := NewWebhook("p1", "w1", in, now); err != nil {
				t.Errorf("NewWebhook: %v; want it accepted", err)
			}
		})
	}
}

func TestUpdateChangesOnlyWhatIsSet(t *testing.T) {
	w, err := NewWebhook("p1", "w1", validInput(), now)
	if err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Minute)
	u, err := w.Update(WebhookInput{Enabled: Some(false), Headers: Some(map[string]string{"X-New": "1"})}, later)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if u.Enabled || u.Headers["X-New"] != "1" || u.Headers["X-Team"] != "" {
		t.Errorf("update not applied: enabled=%v headers=%v", u.Enabled, u.Headers)
	}
	if u.Name != w.Name || u.URL != w.URL || len(u.Events) != 1 || !u.UpdatedAt.Equal(later) {
		t.Errorf("update changed what it was not given: %+v", u)
	}
	if !w.Enabled || w.Headers["X-Team"] != "web" {
		t.Errorf("Update modified the original: %+v", w)
	}
	if _, err := w.Update(WebhookInput{URL: Some("nope")}, later); ErrorCode(err) != EINVALID {
		t.Errorf("invalid update: err = %v; want EINVALID", err)
	}
}
