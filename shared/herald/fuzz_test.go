package herald

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Fuzz targets for what Herald reads from outside: events from the CMS,
// webhook settings from the API, and templates over event data. Seeds live in
// testdata/fuzz/<name>/; `make fuzz-smoke` runs each briefly, `make fuzz`
// longer. docs/security.md lists them.

// FuzzParseEvent: an event is either rejected with a client error, or
// accepted with every field within its limits, and then survives a round
// trip: encoding the parsed event and parsing it again gives the same event.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(validEvent))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, subject, err := ParseEvent(raw)
		if err != nil {
			if ev != nil || subject != nil {
				t.Fatalf("ParseEvent returned an event and an error %v", err)
			}
			switch code := ErrorCode(err); code {
			case EINVALID, EBADJSON, ETOOLARGE:
			default:
				t.Fatalf("ParseEvent error code %q (%v), want a client error", code, err)
			}
			return
		}
		checkEvent(t, ev, subject)

		again, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("encode accepted event: %v", err)
		}
		ev2, subject2, err := ParseEvent(again)
		if err != nil {
			t.Fatalf("accepted event does not parse again: %v\n%s", err, again)
		}
		if !sameEvent(ev, ev2) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", ev, ev2)
		}
		if *subject != *subject2 {
			t.Fatalf("round trip changed the subject:\n%+v\n%+v", subject, subject2)
		}
	})
}

func checkEvent(t *testing.T, ev *Event, s *Subject) {
	t.Helper()
	for field, v := range map[string]string{"project_id": ev.ProjectID, "event_id": ev.EventID} {
		if v == "" || len(v) > MaxEventIDBytes || hasControl(v) {
			t.Fatalf("accepted %s %q: blank, too long or with control characters", field, v)
		}
	}
	if ev.Environment == "" {
		t.Fatalf("accepted a blank environment")
	}
	if !IsEventType(ev.EntityType, ev.EventType) {
		t.Fatalf("accepted %s.%s, not an event of the contract", ev.EntityType, ev.EventType)
	}
	if ev.EventTriggeredAt.IsZero() || ev.EventTriggeredAt.Location() != time.UTC {
		t.Fatalf("event_triggered_at %v: zero or not UTC", ev.EventTriggeredAt)
	}
	if s.EntityType != ev.EntityType || s.EventType != ev.EventType || s.EntityID == "" ||
		s.Environment != ev.Environment || s.Primary != ev.IsEnvironmentPrimary {
		t.Fatalf("subject %+v does not describe event %+v", s, ev)
	}
	if !json.Valid(ev.Entity) {
		t.Fatalf("accepted entity is not JSON: %q", ev.Entity)
	}
}

// sameEvent compares events, JSON members by what they decode to (encoding
// may escape characters such as & differently).
func sameEvent(a, b *Event) bool {
	return a.ProjectID == b.ProjectID && a.EventID == b.EventID && a.Environment == b.Environment &&
		a.IsEnvironmentPrimary == b.IsEnvironmentPrimary && a.EntityType == b.EntityType &&
		a.EventType == b.EventType && a.EventTriggeredAt.Equal(b.EventTriggeredAt) &&
		sameJSON(a.Entity, b.Entity) && sameJSON(a.PreviousEntity, b.PreviousEntity) &&
		sameJSON(a.RelatedEntities, b.RelatedEntities)
}

func sameJSON(a, b json.RawMessage) bool {
	decode := func(raw json.RawMessage) (any, bool) {
		if len(raw) == 0 {
			return nil, true
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		err := dec.Decode(&v)
		return v, err == nil
	}
	va, okA := decode(a)
	vb, okB := decode(b)
	return okA && okB && reflect.DeepEqual(va, vb)
}

// FuzzWebhook: whatever settings are given, NewWebhook either refuses them
// naming a field, or returns a webhook that keeps every rule of the
// contract, that Update leaves as it is when given the same settings again,
// and whose requests render without a header or URL that could split an
// HTTP request.
func FuzzWebhook(f *testing.F) {
	f.Add("Deploy", "https://example.com/hook/{{entity.id}}", "", false, "X-Team", "web", "", "", "item", "update", "item_type", "1423")
	f.Fuzz(func(t *testing.T, name, rawURL, payload string, hasPayload bool, headerName, headerValue, user, password,
		entityType, eventType, filterType, filterID string) {
		in := WebhookInput{
			Name: Some(name), URL: Some(rawURL),
			CustomPayload:     Some[*string](nil),
			Headers:           Some(map[string]string{}),
			Events:            Some([]Trigger{{EntityType: entityType, EventTypes: []string{eventType}}}),
			HTTPBasicUser:     Some(&user),
			HTTPBasicPassword: Some(&password),
		}
		if hasPayload {
			in.CustomPayload = Some(&payload)
		}
		if headerName != "" {
			in.Headers = Some(map[string]string{headerName: headerValue})
		}
		if filterType != "" {
			in.Events.Value[0].Filters = []Filter{{EntityType: filterType, EntityIDs: []string{filterID}}}
		}
		now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
		w, err := NewWebhook("p1", "01KAZW0000000000000000000A", in, now)
		if err != nil {
			if ErrorCode(err) != EINVALID || len(ErrorProblems(err)) == 0 {
				t.Fatalf("NewWebhook error %v: want EINVALID naming a field", err)
			}
			for _, p := range ErrorProblems(err) {
				if p.Field == "" || p.Code == "" || p.Message == "" {
					t.Fatalf("problem %+v: want field, code and message", p)
				}
			}
			return
		}
		checkWebhook(t, w)

		same, err := w.Update(in, now)
		if err != nil {
			t.Fatalf("Update with the settings NewWebhook accepted: %v", err)
		}
		if !reflect.DeepEqual(w, same) {
			t.Fatalf("Update with the same settings changed the webhook:\n%+v\n%+v", w, same)
		}
		unchanged, err := w.Update(WebhookInput{}, now)
		if err != nil || !reflect.DeepEqual(w, unchanged) {
			t.Fatalf("an empty Update changed the webhook or failed (%v)", err)
		}
		checkRender(t, w)
	})
}

func checkWebhook(t *testing.T, w *Webhook) {
	t.Helper()
	if w.Name == "" || utf8.RuneCountInString(w.Name) > MaxNameLength || hasControl(w.Name) {
		t.Fatalf("accepted name %q", w.Name)
	}
	if w.URL == "" || len(w.URL) > MaxURLLength || hasControl(w.URL) || strings.ContainsAny(w.URL, " \t") {
		t.Fatalf("accepted url %q", w.URL)
	}
	u, err := url.Parse(mustacheTag.ReplaceAllString(w.URL, "x"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
		t.Fatalf("accepted url %q: not an absolute http(s) URL with a host and no credentials", w.URL)
	}
	if w.CustomPayload != nil {
		if _, err := ParseTemplate(*w.CustomPayload); err != nil {
			t.Fatalf("accepted a custom payload that does not parse: %v", err)
		}
	}
	for k, v := range w.Headers {
		lower := strings.ToLower(k)
		if !isToken(k) || slices.Contains(reservedHeaders, lower) || strings.HasPrefix(lower, "proxy-") {
			t.Fatalf("accepted header name %q", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") || len(v) > MaxHeaderValueLength {
			t.Fatalf("accepted header %s value %q", k, v)
		}
		if lower == "authorization" && w.HTTPBasicUser != nil {
			t.Fatalf("accepted an Authorization header beside basic auth")
		}
	}
	if w.HTTPBasicUser != nil && (strings.Contains(*w.HTTPBasicUser, ":") || hasControl(*w.HTTPBasicUser)) {
		t.Fatalf("accepted basic auth user %q", *w.HTTPBasicUser)
	}
	if w.HTTPBasicPassword != nil && (w.HTTPBasicUser == nil || hasControl(*w.HTTPBasicPassword)) {
		t.Fatalf("accepted basic auth password without a user or with control characters")
	}
	if len(w.Events) == 0 {
		t.Fatalf("accepted a webhook without triggers")
	}
	for _, tr := range w.Events {
		for _, ev := range tr.EventTypes {
			if !IsEventType(tr.EntityType, ev) {
				t.Fatalf("accepted trigger %s.%s", tr.EntityType, ev)
			}
		}
		for _, fl := range tr.Filters {
			if !slices.Contains(FilterTypes(tr.EntityType), fl.EntityType) || len(fl.EntityIDs) == 0 {
				t.Fatalf("accepted filter %+v on %s", fl, tr.EntityType)
			}
		}
	}
}

// checkRender renders an accepted webhook's request over a sample call: it
// may fail with a RenderError (a URL template can render to anything), but a
// request it returns goes to an http(s) URL without control characters, with
// header values that cannot start a new header.
func checkRender(t *testing.T, w *Webhook) {
	t.Helper()
	ev, _, err := ParseEvent([]byte(validEvent))
	if err != nil {
		t.Fatal(err)
	}
	call := NewCall("01KAZC0000000000000000000A", w, ev, ev.EventTriggeredAt, time.Hour)
	req, err := RenderRequest(w, call, 0)
	if err != nil {
		var re *RenderError
		if !asRenderError(err, &re) {
			t.Fatalf("RenderRequest error %T %v, want a *RenderError", err, err)
		}
		return
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || hasControl(req.URL) {
		t.Fatalf("rendered URL %q is not a plain absolute http(s) URL", req.URL)
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("rendered header %s value %q holds CR, LF or NUL", k, v)
			}
		}
	}
	if w.CustomPayload == nil && !json.Valid(req.Body) {
		t.Fatalf("default payload is not JSON: %s", req.Body)
	}
}

func asRenderError(err error, target **RenderError) bool {
	re, ok := err.(*RenderError)
	*target = re
	return ok
}

// FuzzTemplate: any template either fails to parse or renders the same way
// twice over any document, without panicking. Over a fuzzed string value,
// the JSON-string and URL-segment escapes hold: a value put inside a JSON
// string of a JSON template leaves valid JSON that decodes to the value, and
// a value put in a URL path segment never changes the URL's host or adds a
// segment.
func FuzzTemplate(f *testing.F) {
	f.Add(`{"id":"{{entity.id}}","all":{{{entity}}}}`, `ab"c\u0000`)
	f.Fuzz(func(t *testing.T, src, value string) {
		doc, err := json.Marshal(map[string]any{
			"entity_type": "item",
			"entity":      map[string]any{"id": value, "attributes": map[string]any{"title": value, "n": 1.5, "tags": []string{value}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if tmpl, err := ParseTemplate(src); err == nil {
			out1, err1 := tmpl.Render(doc)
			out2, err2 := tmpl.Render(doc)
			if out1 != out2 || (err1 == nil) != (err2 == nil) {
				t.Fatalf("template %q renders differently twice", src)
			}
		}

		// What json.Marshal made of the value (invalid UTF-8 replaced) is
		// what the template sees.
		var want string
		if raw, _ := json.Marshal(value); json.Unmarshal(raw, &want) != nil {
			t.Fatalf("a marshalled string does not unmarshal")
		}
		body, err := mustRender(t, ParseTemplate, `{"id":"{{entity.id}}","t":"x {{entity.attributes.title}} y","tags":"{{entity.attributes.tags}}"}`, doc)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ ID, T, Tags string }
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("JSON template over %q rendered invalid JSON %q: %v", value, body, err)
		}
		if got.ID != want || got.T != "x "+want+" y" {
			t.Fatalf("JSON template over %q: id %q t %q", value, got.ID, got.T)
		}
		var tags []string
		if err := json.Unmarshal([]byte(got.Tags), &tags); err != nil || len(tags) != 1 || tags[0] != want {
			t.Fatalf("an array escaped into a string did not keep its JSON: %q", got.Tags)
		}

		target, err := mustRender(t, ParseURLTemplate, `https://hooks.example.com/in/{{entity.id}}/end?x=1`, doc)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(target)
		if err != nil {
			t.Fatalf("URL template over %q rendered %q, which does not parse: %v", value, target, err)
		}
		if u.Host != "hooks.example.com" || u.RawQuery != "x=1" || u.User != nil {
			t.Fatalf("URL template over %q rendered %q: host, query or user changed", value, target)
		}
		if strings.Count(u.EscapedPath(), "/") != 3 || u.Path != "/in/"+want+"/end" {
			t.Fatalf("URL template over %q rendered path %q, want /in/<value>/end", value, u.Path)
		}

		// In the query, a value is one parameter's value: it adds no
		// parameter and ends none (issue 10, defect 9).
		target, err = mustRender(t, ParseURLTemplate, `https://hooks.example.com/in/{{entity.id}}?id={{entity.id}}&sig=ours&t={{entity.attributes.title}}#frag`, doc)
		if err != nil {
			t.Fatal(err)
		}
		if u, err = url.Parse(target); err != nil {
			t.Fatalf("URL template over %q rendered %q, which does not parse: %v", value, target, err)
		}
		q := u.Query()
		if u.Host != "hooks.example.com" || len(q) != 3 || q.Get("id") != want || q.Get("sig") != "ours" || q.Get("t") != want ||
			len(q["sig"]) != 1 || u.Fragment != "frag" || u.Path != "/in/"+want {
			t.Fatalf("URL template over %q rendered %q: query %v, fragment %q, path %q", value, target, q, u.Fragment, u.Path)
		}
	})
}

func mustRender(t *testing.T, parse func(string) (*Template, error), src string, doc []byte) (string, error) {
	t.Helper()
	tmpl, err := parse(src)
	if err != nil {
		return "", err
	}
	return tmpl.Render(doc)
}
