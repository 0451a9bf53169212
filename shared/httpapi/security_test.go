package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/heraldhq/herald/shared/guard"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/httpapi"
	"github.com/heraldhq/herald/test/testenv"
)

// The API's security tests (docs/security.md): tenant isolation on every
// route, authentication, header injection through webhook settings, and
// oversized or deeply nested bodies. Each checks that nothing changed in
// the table or the queue, not only the status.

// routes lists every route of the server, from its own route table.
func routes() [][2]string { return httpapi.New(httpapi.Deps{}).RouteTable() }

// projectWithCall creates a webhook through the API and a call of it in the
// table, for the token's project; it returns their ids.
func (a *api) projectWithCall(token, project string) (hookID, callID string) {
	a.t.Helper()
	host := project
	if strings.Trim(host, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		host = fmt.Sprintf("%x", project) // a project id that is no host name
	}
	r := a.do(token, "POST", "/webhooks", webhookDoc(map[string]any{
		"name": project + " hook", "url": "https://" + host + ".example.com/hook",
		"http_basic_user": "u-" + project, "http_basic_password": testenv.Secret(a.t, "basic-password-"+project),
	}))
	if r.status != 201 {
		a.t.Fatalf("create %s's webhook: %d %s", project, r.status, r.raw)
	}
	hookID = dataID(r)
	now := time.Now().UTC().Truncate(time.Millisecond)
	ev := &herald.Event{ProjectID: project, EventID: "evt-" + project, Environment: "main", EntityType: "item", EventType: "publish",
		EventTriggeredAt: now, Entity: json.RawMessage(`{"id":"1","type":"item"}`)}
	call := herald.NewCall(herald.NewID(now), &herald.Webhook{ID: hookID}, ev, now, time.Hour)
	if _, err := a.store.CreateCall(context.Background(), call); err != nil {
		a.t.Fatal(err)
	}
	return hookID, call.ID
}

// wantAPIError checks a DatoCMS error document: status, Content-Type, one or
// more api_error entries with the code, and no echo of what must stay
// secret.
func wantAPIError(t *testing.T, what string, r response, status int, code string, secrets ...string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: status %d, want %d (%s)", what, r.status, status, r.raw)
		return
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	list, ok := r.body["data"].([]any)
	if !ok || len(list) == 0 {
		t.Errorf("%s: body %s is not a DatoCMS error document", what, r.raw)
		return
	}
	for _, e := range list {
		entry, _ := e.(map[string]any)
		attrs, _ := entry["attributes"].(map[string]any)
		if entry["type"] != "api_error" || entry["id"] == "" || attrs == nil || attrs["code"] != code ||
			attrs["transient"] != false || attrs["details"] == nil {
			t.Errorf("%s: error entry %v, want an api_error with code %s", what, entry, code)
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(r.raw, s) {
			t.Errorf("%s: the answer repeats a secret (%s)", what, testenv.Mask(s))
		}
	}
}

// TestOtherProjectsIDsAreNotFound tries every route of the API with project
// p1's token on p2's webhook and call: each is 404 NOT_FOUND (the ids are
// not even confirmed to exist), lists show nothing of p2, and the table and
// queue are exactly as before.
func TestOtherProjectsIDsAreNotFound(t *testing.T) {
	a := newAPI(t)
	a.projectWithCall(a.tokenP1, "p1")
	hookP2, callP2 := a.projectWithCall(a.tokenP2, "p2")
	before := a.env.Snapshot(t)

	tried := map[[2]string]bool{}
	for _, rt := range routes() {
		method, pattern := rt[0], rt[1]
		if !strings.Contains(pattern, "{id}") {
			continue
		}
		id := hookP2
		if strings.HasPrefix(pattern, "/webhook_calls/") {
			id = callP2
		}
		// The id as is, and spellings that must not reach it either: those
		// may also miss the route (INVALID_ENDPOINT), as long as they are 404.
		for i, spelled := range []string{id, id + "%00", "..%2F" + id, "P%23p2%23W%23" + id, strings.ToLower(id), "%2E%2E%2F" + id} {
			path := strings.Replace(pattern, "{id}", spelled, 1)
			var body any
			if method == "PUT" || method == "PATCH" {
				bodyID, _ := url.PathUnescape(spelled)
				body = map[string]any{"data": map[string]any{"type": "webhook", "id": bodyID, "attributes": map[string]any{"enabled": false, "url": "https://attacker.example/"}}}
			}
			r := a.do(a.tokenP1, method, path, body)
			code := "NOT_FOUND"
			if i > 0 && r.status == http.StatusNotFound && strings.Contains(r.raw, "INVALID_ENDPOINT") {
				code = "INVALID_ENDPOINT"
			}
			wantAPIError(t, method+" "+path, r, http.StatusNotFound, code)
			if strings.Contains(r.raw, "p2.example.com") || strings.Contains(r.raw, "basic-password-p2") {
				t.Errorf("%s %s: the 404 shows p2's webhook: %s", method, path, r.raw)
			}
		}
		tried[rt] = true
	}

	// The routes without an id: what p1 sees holds nothing of p2.
	for _, q := range []string{"", "?filter[ids]=" + callP2, "?filter[fields][webhook_id][eq]=" + hookP2} {
		r := a.do(a.tokenP1, "GET", "/webhook_calls"+q, nil)
		if r.status != 200 || strings.Contains(r.raw, callP2) || strings.Contains(r.raw, hookP2) {
			t.Errorf("GET /webhook_calls%s with p1's token: %d %s", q, r.status, r.raw)
		}
	}
	tried[[2]string{"GET", "/webhook_calls"}] = true
	// A bulk resend selects only the token's project's calls: p2's, named
	// by id or webhook, match nothing, and nothing is queued.
	for _, q := range []string{"?filter[ids]=" + callP2, "?filter[fields][webhook_id][eq]=" + hookP2} {
		r := a.do(a.tokenP1, "POST", "/webhook_calls/bulk_resend"+q, nil)
		attrs, _ := r.body["data"].(map[string]any)["attributes"].(map[string]any)
		if r.status != 200 || attrs["matched"] != 0.0 || attrs["queued"] != 0.0 || strings.Contains(r.raw, callP2) {
			t.Errorf("POST /webhook_calls/bulk_resend%s with p1's token: %d %s", q, r.status, r.raw)
		}
	}
	tried[[2]string{"POST", "/webhook_calls/bulk_resend"}] = true
	if r := a.do(a.tokenP1, "GET", "/webhooks", nil); r.status != 200 || strings.Contains(r.raw, hookP2) || len(r.body["data"].([]any)) != 1 {
		t.Errorf("GET /webhooks with p1's token: %d %s", r.status, r.raw)
	}
	tried[[2]string{"GET", "/webhooks"}] = true
	if changed := before.Changed(a.env.Snapshot(t), "K#p1#"); len(changed) > 0 {
		t.Errorf("requests with another project's ids changed the table or the queue: %q", changed)
	}

	// Writes without an id stay within the token's project.
	if r := a.do(a.tokenP1, "POST", "/webhooks", webhookDoc(map[string]any{"name": "p1 second"})); r.status != 201 {
		t.Errorf("create: %d %s", r.status, r.raw)
	} else if r2 := a.do(a.tokenP2, "GET", "/webhooks/"+dataID(r), nil); r2.status != 404 {
		t.Errorf("p2 reads p1's new webhook: %d", r2.status)
	}
	tried[[2]string{"POST", "/webhooks"}] = true
	preview := map[string]any{"data": map[string]any{"type": "webhook_payload_preview", "attributes": map[string]any{
		"custom_payload": `{"site":"{{site_id}}"}`, "url": "https://x.example/", "entity_type": "item", "event_type": "update"}}}
	if r := a.do(a.tokenP1, "POST", "/webhook_payload_preview", preview); r.status != 200 || !strings.Contains(r.raw, `{\"site\":\"p1\"}`) {
		t.Errorf("preview renders for another project than the token's: %d %s", r.status, r.raw)
	}
	tried[[2]string{"POST", "/webhook_payload_preview"}] = true

	for _, rt := range routes() {
		if !tried[rt] {
			t.Errorf("route %s %s has no cross-project case in this test; add one", rt[0], rt[1])
		}
	}
}

// TestBadTokensAreUnauthorized sends every route missing, malformed, unknown,
// tampered and wrong-scheme credentials: each is 401 with DatoCMS's
// INVALID_AUTHORIZATION_HEADER, never echoes what was sent, and changes
// nothing.
func TestBadTokensAreUnauthorized(t *testing.T) {
	a := newAPI(t)
	hook, call := a.projectWithCall(a.tokenP1, "p1")
	before := a.env.Snapshot(t)
	testenv.Secret(t, a.tokenP1)
	unknown := testenv.Secret(t, herald.NewToken())
	headers := map[string]string{
		"missing":              "",
		"scheme only":          "Bearer",
		"scheme and space":     "Bearer ",
		"not a token":          "Bearer not-a-token-at-all",
		"prefix only":          "Bearer hrld_",
		"unknown token":        "Bearer " + unknown,
		"tampered token":       "Bearer " + a.tokenP1[:len(a.tokenP1)-1] + flip(a.tokenP1[len(a.tokenP1)-1]),
		"truncated token":      "Bearer " + a.tokenP1[:len(a.tokenP1)-1],
		"extended token":       "Bearer " + a.tokenP1 + "A",
		"token without scheme": a.tokenP1,
		"basic scheme":         "Basic " + base64.StdEncoding.EncodeToString([]byte("p1:"+a.tokenP1)),
		"token scheme":         "Token " + a.tokenP1,
		"api key scheme":       "Api-Key " + a.tokenP1,
		"two tokens":           "Bearer " + unknown + ", Bearer " + a.tokenP1,
		"hash as token":        "Bearer " + herald.HashToken(a.tokenP1),
	}
	for _, rt := range routes() {
		path := strings.NewReplacer("{id}", hook).Replace(rt[1])
		if strings.HasPrefix(rt[1], "/webhook_calls/") {
			path = strings.NewReplacer("{id}", call).Replace(rt[1])
		}
		for name, h := range headers {
			r := a.doRaw(rt[0], path, h, webhookDoc(nil))
			wantAPIError(t, fmt.Sprintf("%s %s with %s", rt[0], rt[1], name), r, http.StatusUnauthorized, "INVALID_AUTHORIZATION_HEADER", a.tokenP1, unknown)
		}
	}
	if changed := before.Changed(a.env.Snapshot(t)); len(changed) > 0 {
		t.Errorf("unauthorized requests changed the table or the queue: %q", changed)
	}
	// The scheme's case does not matter; the token's does.
	for _, h := range []string{"bearer " + a.tokenP1, "BEARER " + a.tokenP1} {
		if r := a.doRaw("GET", "/webhooks/"+hook, h, nil); r.status != http.StatusOK {
			t.Errorf("GET a webhook with %q…: %d; want 200", h[:7], r.status)
		}
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// doRaw sends a request with exactly the Authorization value given ("" for
// none).
func (a *api) doRaw(method, path, authorization string, body any) response {
	a.t.Helper()
	raw, _ := json.Marshal(body)
	return a.send(method, path, authorization, "application/json", bytes.NewReader(raw))
}

func (a *api) send(method, path, authorization, contentType string, body io.Reader) response {
	a.t.Helper()
	req, err := http.NewRequest(method, a.url+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, raw: string(out)}
	if err := json.Unmarshal(out, &r.body); err != nil {
		a.t.Errorf("%s %s: %d, body is not JSON: %.200s", method, path, res.StatusCode, out)
	}
	return r
}

// TestHeaderInjectionIsRefused: CR, LF or NUL in a header value, a header
// name, the basic-auth user or password, or the URL is refused with 422
// naming the field, on create and on update, and nothing is stored.
func TestHeaderInjectionIsRefused(t *testing.T) {
	a := newAPI(t)
	hook, _ := a.projectWithCall(a.tokenP1, "p1")
	before := a.env.Snapshot(t)
	const inject = "\r\nX-Injected: 1"
	tests := map[string]struct {
		attrs map[string]any
		field string
	}{
		"CRLF in a header value":  {map[string]any{"headers": map[string]any{"X-Team": "web" + inject}}, "headers.X-Team"},
		"LF in a header value":    {map[string]any{"headers": map[string]any{"X-Team": "web\nX-Injected: 1"}}, "headers.X-Team"},
		"CR in a header value":    {map[string]any{"headers": map[string]any{"X-Team": "web\rX-Injected: 1"}}, "headers.X-Team"},
		"NUL in a header value":   {map[string]any{"headers": map[string]any{"X-Team": "web\x00"}}, "headers.X-Team"},
		"CRLF in a header name":   {map[string]any{"headers": map[string]any{"X-Team" + inject: "web"}}, "headers.X-Team" + inject},
		"colon in a header name":  {map[string]any{"headers": map[string]any{"X-Team: web\r\nX": "1"}}, "headers.X-Team: web\r\nX"},
		"Host header":             {map[string]any{"headers": map[string]any{"Host": "internal.example"}}, "headers.Host"},
		"signature header":        {map[string]any{"headers": map[string]any{"Webhook-Signature": "v1,forged"}}, "headers.Webhook-Signature"},
		"CRLF in the basic user":  {map[string]any{"http_basic_user": "deploy" + inject, "http_basic_password": "pw"}, "http_basic_user"},
		"colon in the basic user": {map[string]any{"http_basic_user": "deploy:admin", "http_basic_password": "pw"}, "http_basic_user"},
		"CRLF in the password":    {map[string]any{"http_basic_user": "deploy", "http_basic_password": "pw" + inject}, "http_basic_password"},
		"CRLF in the URL":         {map[string]any{"url": "https://example.com/hook" + inject}, "url"},
		"encoded CRLF host":       {map[string]any{"url": "https://example.com%0d%0aX-Injected:%201/hook"}, "url"},
		"tab in the URL":          {map[string]any{"url": "https://example.com/\thook"}, "url"},
		"credentials in the URL":  {map[string]any{"url": "https://user:pw@example.com/hook"}, "url"},
	}
	for name, tc := range tests {
		r := a.do(a.tokenP1, "POST", "/webhooks", webhookDoc(tc.attrs))
		wantAPIError(t, "create with "+name, r, http.StatusUnprocessableEntity, "INVALID_FIELD")
		if !slices.Contains(errorFields(r), "INVALID_FIELD:"+tc.field) {
			t.Errorf("create with %s: fields %q, want %q", name, errorFields(r), tc.field)
		}
		r = a.do(a.tokenP1, "PUT", "/webhooks/"+hook, map[string]any{"data": map[string]any{"type": "webhook", "id": hook, "attributes": tc.attrs}})
		wantAPIError(t, "update with "+name, r, http.StatusUnprocessableEntity, "INVALID_FIELD")
	}
	if changed := before.Changed(a.env.Snapshot(t)); len(changed) > 0 {
		t.Errorf("refused settings changed the table or the queue: %q", changed)
	}
}

// TestOversizedAndDeepBodies: bodies over the limit are 413 and bodies
// nested past what the decoder takes are 400 or 422, on every route that
// reads a body, with nothing stored and the server still serving.
func TestOversizedAndDeepBodies(t *testing.T) {
	a := newAPI(t)
	hook, _ := a.projectWithCall(a.tokenP1, "p1")
	before := a.env.Snapshot(t)
	bearer := "Bearer " + a.tokenP1

	big, _ := json.Marshal(webhookDoc(map[string]any{"custom_payload": strings.Repeat("x", httpapi.MaxBodyBytes)}))
	deep := func(n int) []byte {
		return []byte(`{"data":{"type":"webhook","attributes":{"headers":` + strings.Repeat(`{"a":`, n) + `"x"` + strings.Repeat("}", n) + `}}}`)
	}
	bodies := []struct {
		name   string
		body   func() io.Reader
		status []int
		code   []string
	}{
		{"just over the limit", func() io.Reader { return bytes.NewReader(big) }, []int{413}, []string{"REQUEST_BODY_TOO_LARGE"}},
		{"10 MiB", func() io.Reader { return io.LimitReader(zeros{}, 10<<20) }, []int{413}, []string{"REQUEST_BODY_TOO_LARGE"}},
		{"arrays nested 100000 deep", func() io.Reader {
			return strings.NewReader(`{"data":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`)
		}, []int{400}, []string{"INVALID_JSON_BODY"}},
		{"objects nested 20000 deep", func() io.Reader { return bytes.NewReader(deep(20000)) }, []int{400}, []string{"INVALID_JSON_BODY"}},
		{"objects nested 5000 deep", func() io.Reader { return bytes.NewReader(deep(5000)) }, []int{422}, []string{"INVALID_FIELD", "INVALID_FORMAT"}},
	}
	targets := []struct{ method, path string }{
		{"POST", "/webhooks"}, {"PUT", "/webhooks/" + hook}, {"PATCH", "/webhooks/" + hook}, {"POST", "/webhook_payload_preview"},
	}
	for _, tg := range targets {
		for _, b := range bodies {
			what := fmt.Sprintf("%s %s, body %s", tg.method, tg.path, b.name)
			r := a.send(tg.method, tg.path, bearer, "application/json", b.body())
			if !slices.Contains(b.status, r.status) {
				t.Errorf("%s: status %d, want %v (%.300s)", what, r.status, b.status, r.raw)
				continue
			}
			list, _ := r.body["data"].([]any)
			if len(list) == 0 {
				t.Errorf("%s: no error document: %.300s", what, r.raw)
				continue
			}
			code := list[0].(map[string]any)["attributes"].(map[string]any)["code"]
			if !slices.Contains(b.code, fmt.Sprint(code)) {
				t.Errorf("%s: code %v, want one of %v", what, code, b.code)
			}
		}
	}
	if changed := before.Changed(a.env.Snapshot(t)); len(changed) > 0 {
		t.Errorf("refused bodies changed the table or the queue: %q", changed)
	}
	if r := a.do(a.tokenP1, "GET", "/webhooks/"+hook, nil); r.status != 200 {
		t.Errorf("the server no longer serves after the oversized bodies: %d", r.status)
	}
}

// zeros is an endless body.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

// TestProjectIDsCannotSpellAnotherKey is issue 10's first defect: keys join
// project and id with '#', and an id comes from the URL, where %23 is '#'.
// A project id holding '#' is refused wherever one enters (a token, a call,
// a webhook); an id that is not a ULID names nothing; and a read by id
// checks the item's own project, so even an item written under such a key
// (by an older version, say) is not another project's to read. Project ids
// with other odd characters work, each in its own space.
func TestProjectIDsCannotSpellAnotherKey(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)

	// The edge: '#' in a project id is refused by every writer.
	ev := &herald.Event{ProjectID: "205#7", EventID: "evt-1", Environment: "main", EntityType: "item", EventType: "publish",
		EventTriggeredAt: now, Entity: json.RawMessage(`{"id":"1","type":"item"}`)}
	if _, err := a.store.CreateCall(ctx, herald.NewCall(herald.NewID(now), &herald.Webhook{ID: herald.NewID(now)}, ev, now, time.Hour)); err == nil {
		t.Error(`CreateCall for project "205#7" succeeded; want it refused`)
	}
	if err := a.store.PutToken(ctx, herald.HashToken(herald.NewToken()), "205#7", ""); err == nil {
		t.Error(`PutToken for project "205#7" succeeded; want it refused`)
	}

	// The second wall: a call stored under project "205#7"'s key, as no
	// current writer can store it, is not found by project "205" asking
	// for "7#<id>", nor by "205#7"'s own malformed spellings.
	token205 := herald.NewToken()
	if err := a.store.PutToken(ctx, herald.HashToken(token205), "205", ""); err != nil {
		t.Fatal(err)
	}
	_, victim := a.projectWithCall(a.tokenP2, "p2")
	found, err := a.env.DB.Scan(ctx, &dynamodb.ScanInput{TableName: &a.env.Table, FilterExpression: aws.String("SK = :id"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":id": &ddbtypes.AttributeValueMemberS{Value: victim}}})
	if err != nil || len(found.Items) != 1 {
		t.Fatalf("read p2's call item: %v", err)
	}
	item := found.Items[0]
	pk := item["PK"].(*ddbtypes.AttributeValueMemberS).Value // L#p2#<shard>
	item["PK"] = &ddbtypes.AttributeValueMemberS{Value: "L#205#7#" + pk[strings.LastIndexByte(pk, '#')+1:]}
	if _, err := a.env.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &a.env.Table, Item: item}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/webhook_calls/7%23" + victim, "/webhook_calls/7%23" + victim + "/resend_webhook"} {
		method := "GET"
		if strings.HasSuffix(path, "resend_webhook") {
			method = "POST"
		}
		r := a.do(token205, method, path, nil)
		wantAPIError(t, method+" "+path+" with project 205's token", r, http.StatusNotFound, "NOT_FOUND")
		if strings.Contains(r.raw, victim) && r.status == 200 {
			t.Errorf("%s %s: project 205 read project 205#7's call: %s", method, path, r.raw)
		}
	}

	// Odd but allowed project ids: each reads its own, none another's.
	projects := []string{"205%237", "205", "a/b", "a", "ünïcødé-é", "7"}
	type owned struct{ token, hook, call string }
	byProject := map[string]owned{}
	for _, p := range projects {
		token := token205
		if p != "205" {
			token = herald.NewToken()
			if err := a.store.PutToken(ctx, herald.HashToken(token), p, ""); err != nil {
				t.Fatalf("PutToken(%q): %v", p, err)
			}
		}
		hook, call := a.projectWithCall(token, p)
		byProject[p] = owned{token, hook, call}
	}
	for _, p := range projects {
		mine := byProject[p]
		if r := a.do(mine.token, "GET", "/webhook_calls/"+mine.call, nil); r.status != 200 {
			t.Errorf("project %q reads its own call: %d %s", p, r.status, r.raw)
		}
		list := a.do(mine.token, "GET", "/webhook_calls", nil)
		if n := len(list.body["data"].([]any)); list.status != 200 || n != 1 || !strings.Contains(list.raw, mine.call) {
			t.Errorf("project %q lists %d calls: %s", p, n, list.raw)
		}
		for _, q := range projects {
			if q == p {
				continue
			}
			theirs := byProject[q]
			for _, path := range []string{"/webhook_calls/" + theirs.call, "/webhooks/" + theirs.hook, "/webhook_calls/" + url.PathEscape(q) + "%23" + theirs.call} {
				if r := a.do(mine.token, "GET", path, nil); r.status != 404 {
					t.Errorf("project %q GET %s (project %q's): %d %s", p, path, q, r.status, r.raw)
				}
			}
		}
	}
}

// TestDeepOffsetsAnswerWithoutReadingTheLog is issue 10's second defect:
// page[offset] near the largest integer made the merge allocate a slice of
// that size in a goroutine, a panic that ended the process, and an offset in
// the millions read the whole activity log into memory. An offset past the
// last call answers an empty page from the count alone; one inside the log
// answers its page.
func TestDeepOffsetsAnswerWithoutReadingTheLog(t *testing.T) {
	a := newAPI(t)
	_, call := a.projectWithCall(a.tokenP1, "p1")
	// What counting alone reads: page[offset]=1 is past the one call.
	a.env.Calls.Reset()
	if r := a.do(a.tokenP1, "GET", "/webhook_calls?page[offset]=1", nil); r.status != 200 {
		t.Fatalf("offset 1: %d %s", r.status, r.raw)
	}
	countQueries := a.env.Calls.Get("DynamoDB.Query")
	for _, offset := range []string{"9223372036854775807", "9223372036854775000", "10000000", "1"} {
		a.env.Calls.Reset()
		r := a.do(a.tokenP1, "GET", "/webhook_calls?page[offset]="+offset+"&page[limit]=500", nil)
		if r.status != 200 {
			t.Fatalf("offset %s: %d %s", offset, r.status, r.raw)
		}
		if n := len(r.body["data"].([]any)); n != 0 || r.body["meta"].(map[string]any)["total_count"] != 1.0 {
			t.Errorf("offset %s: %d calls, meta %v; want an empty page and the total 1", offset, n, r.body["meta"])
		}
		// The count alone says the page is empty; the merge, were it run,
		// would read every shard again.
		if q := a.env.Calls.Get("DynamoDB.Query"); q > countQueries {
			t.Errorf("offset %s made %d queries; counting alone makes %d", offset, q, countQueries)
		}
	}
	if r := a.do(a.tokenP1, "GET", "/webhook_calls?page[offset]=0", nil); r.status != 200 || !strings.Contains(r.raw, call) {
		t.Errorf("offset 0: %d %s", r.status, r.raw)
	}
	if r := a.do(a.tokenP1, "GET", "/webhook_calls?page[offset]=99999999999999999999", nil); r.status != 422 {
		t.Errorf("an offset beyond any integer: %d %s; want 422", r.status, r.raw)
	}
}

// panickyCalls is a call store whose list panics, in the request's own
// goroutine or in one it starts.
type panickyCalls struct{ inGoroutine bool }

func (p panickyCalls) GetCall(context.Context, string, string) (*herald.Call, error) {
	panic("GetCall broke")
}

func (p panickyCalls) ListCalls(context.Context, string, herald.CallQuery) ([]*herald.Call, int, error) {
	if !p.inGoroutine {
		var calls []*herald.Call
		return calls[:1], 0, nil // index out of range
	}
	var g errgroup.Group
	g.Go(guard.Func(func() error { panic("a shard query broke") }))
	return nil, 0, g.Wait()
}

func (p panickyCalls) RequestResend(context.Context, string, string, string) (bool, error) {
	return false, nil
}

// TestPanicsAnswer500 checks that a panic while serving a request, in its
// own goroutine or in one the store starts, answers 500 with an api_error
// and leaves the server serving: no request can end a function instance.
func TestPanicsAnswer500(t *testing.T) {
	for name, calls := range map[string]panickyCalls{"handler": {}, "store goroutine": {inGoroutine: true}} {
		t.Run(name, func(t *testing.T) {
			token := herald.NewToken()
			var logs bytes.Buffer
			srv := httpapi.New(httpapi.Deps{Calls: calls, Tokens: memTokenStore{herald.HashToken(token): "p1"},
				Clock: herald.SystemClock{}, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
			for range 2 {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest("GET", "/webhook_calls", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				srv.ServeHTTP(rec, req)
				var body map[string]any
				_ = json.Unmarshal(rec.Body.Bytes(), &body)
				r := response{status: rec.Code, header: rec.Header(), body: body, raw: rec.Body.String()}
				wantAPIError(t, "GET /webhook_calls with a panicking store", r, http.StatusInternalServerError, "INTERNAL_ERROR")
				if strings.Contains(r.raw, "broke") || strings.Contains(r.raw, "index out of range") {
					t.Errorf("the answer shows the panic: %s", r.raw)
				}
			}
			if !strings.Contains(logs.String(), "panic") {
				t.Errorf("the panic was not logged: %s", logs.String())
			}
		})
	}
}

type memTokenStore map[string]string

func (m memTokenStore) ProjectForToken(_ context.Context, hash string) (string, error) {
	if p, ok := m[hash]; ok {
		return p, nil
	}
	return "", herald.Errorf(herald.EUNAUTHORIZED, "unknown token")
}
