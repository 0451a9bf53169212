package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/httpapi"
	"github.com/heraldhq/herald/shared/signing"
	"github.com/heraldhq/herald/shared/sqs"
	"github.com/heraldhq/herald/test/testenv"
)

// api is an API server over a fresh table and queue in moto, with a token
// for project p1 and one for project p2.
type api struct {
	t       *testing.T
	url     string
	store   *dynamo.Store
	env     *testenv.Env
	tokenP1 string
	tokenP2 string
	logs    *testenv.Buffer
}

func newAPI(t *testing.T) *api {
	t.Helper()
	return newAPIWith(t, herald.SystemClock{}, 0)
}

// newAPIWith is newAPI with a clock and a bound on bulk resends (0: the
// real one).
func newAPIWith(t *testing.T, clock herald.Clock, maxBulkResend int) *api {
	t.Helper()
	env := testenv.New(t)
	store := dynamo.New(dynamo.Deps{DB: env.DB, Table: env.Table, Clock: clock})
	log, logs := testenv.Logger(t, "api")
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{
		Webhooks: store, Calls: store, Tokens: store, Health: store,
		Queue: sqs.New(env.SQS, env.QueueURL), Clock: clock,
		Log:           log,
		NewSecret:     signing.NewSecret,
		MaxBulkResend: maxBulkResend,
	}))
	t.Cleanup(srv.Close)
	a := &api{t: t, url: srv.URL, store: store, env: env, tokenP1: herald.NewToken(), tokenP2: herald.NewToken(), logs: logs}
	ctx := context.Background()
	if err := store.PutToken(ctx, herald.HashToken(a.tokenP1), "p1", ""); err != nil {
		t.Fatal(err)
	}
	if err := store.PutToken(ctx, herald.HashToken(a.tokenP2), "p2", ""); err != nil {
		t.Fatal(err)
	}
	return a
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (a *api) do(token, method, path string, body any) response {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, a.url+path, rd)
	req.Header.Set("Content-Type", "application/vnd.api+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			a.t.Fatalf("%s %s: body is not JSON: %s", method, path, raw)
		}
	}
	if ct := res.Header.Get("Content-Type"); len(raw) > 0 && !strings.HasPrefix(ct, "application/json") {
		a.t.Errorf("%s %s: Content-Type %q; the DatoCMS client needs application/json", method, path, ct)
	}
	return r
}

func webhookDoc(attrs map[string]any) map[string]any {
	base := map[string]any{
		"name": "Deploy", "url": "https://example.com/hook", "custom_payload": nil,
		"headers": map[string]any{}, "http_basic_user": nil, "http_basic_password": nil,
		"events": []any{map[string]any{"entity_type": "item", "event_types": []any{"publish"}}},
	}
	for k, v := range attrs {
		if v == "<absent>" {
			delete(base, k)
		} else {
			base[k] = v
		}
	}
	return map[string]any{"data": map[string]any{"type": "webhook", "attributes": base}}
}

func dataAttrs(r response) map[string]any {
	return r.body["data"].(map[string]any)["attributes"].(map[string]any)
}

func dataID(r response) string { return r.body["data"].(map[string]any)["id"].(string) }

// errorFields lists the INVALID_FIELD fields of an error response.
func errorFields(r response) []string {
	var out []string
	list, _ := r.body["data"].([]any)
	for _, e := range list {
		attrs := e.(map[string]any)["attributes"].(map[string]any)
		details, _ := attrs["details"].(map[string]any)
		out = append(out, fmt.Sprint(attrs["code"], ":", details["field"]))
	}
	return out
}

func TestWebhookCRUD(t *testing.T) {
	a := newAPI(t)
	created := a.do(a.tokenP1, "POST", "/webhooks", webhookDoc(map[string]any{"headers": map[string]any{"X-A": "1"}}))
	if created.status != 201 {
		t.Fatalf("create: %d %s", created.status, created.raw)
	}
	id := dataID(created)
	attrs := dataAttrs(created)
	for k, want := range map[string]any{"enabled": true, "auto_retry": true, "nested_items_in_payload": false, "payload_api_version": "3", "custom_payload": nil, "http_basic_user": nil} {
		if attrs[k] != want {
			t.Errorf("created %s = %v; want %v", k, attrs[k], want)
		}
	}
	if events := attrs["events"].([]any); events[0].(map[string]any)["filters"] != nil {
		t.Errorf("filters of a trigger without filters = %v; want null", events[0].(map[string]any)["filters"])
	}
	if _, leaked := attrs["secret"]; leaked || strings.Contains(created.raw, "whsec_") {
		t.Errorf("the webhook resource shows its signing secret: %s", created.raw)
	}

	list := a.do(a.tokenP1, "GET", "/webhooks", nil)
	if list.status != 200 || len(list.body["data"].([]any)) != 1 {
		t.Errorf("list: %d %s", list.status, list.raw)
	}
	upd := a.do(a.tokenP1, "PUT", "/webhooks/"+id, map[string]any{"data": map[string]any{"type": "webhook", "id": id,
		"attributes": map[string]any{"enabled": false, "custom_payload": `{"id":"{{entity.id}}"}`}}})
	if upd.status != 200 || dataAttrs(upd)["enabled"] != false || dataAttrs(upd)["name"] != "Deploy" || dataAttrs(upd)["headers"].(map[string]any)["X-A"] != "1" {
		t.Errorf("partial update: %d %s", upd.status, upd.raw)
	}
	got := a.do(a.tokenP1, "GET", "/webhooks/"+id, nil)
	if dataAttrs(got)["custom_payload"] != `{"id":"{{entity.id}}"}` {
		t.Errorf("read after update: %s", got.raw)
	}
	del := a.do(a.tokenP1, "DELETE", "/webhooks/"+id, nil)
	if del.status != 200 || dataID(del) != id {
		t.Errorf("delete: %d %s", del.status, del.raw)
	}
	if r := a.do(a.tokenP1, "GET", "/webhooks/"+id, nil); r.status != 404 {
		t.Errorf("read after delete: %d", r.status)
	}
}

func TestWebhookValidationErrors(t *testing.T) {
	a := newAPI(t)
	if r := a.do(a.tokenP1, "POST", "/webhooks", webhookDoc(map[string]any{"name": "Taken"})); r.status != 201 {
		t.Fatalf("seed: %d %s", r.status, r.raw)
	}
	tests := map[string]struct {
		body       any
		wantStatus int
		wantError  string
	}{
		"unknown entity type":     {webhookDoc(map[string]any{"events": []any{map[string]any{"entity_type": "record", "event_types": []any{"create"}}}}), 422, "INVALID_FIELD:events[0].entity_type"},
		"event of another entity": {webhookDoc(map[string]any{"events": []any{map[string]any{"entity_type": "upload", "event_types": []any{"publish"}}}}), 422, "INVALID_FIELD:events[0].event_types[0]"},
		"empty events":            {webhookDoc(map[string]any{"events": []any{}}), 422, "INVALID_FIELD:events"},
		"empty entity ids": {webhookDoc(map[string]any{"events": []any{map[string]any{"entity_type": "item", "event_types": []any{"update"},
			"filters": []any{map[string]any{"entity_type": "item_type", "entity_ids": []any{}}}}}}), 422, "INVALID_FIELD:events[0].filters[0].entity_ids"},
		"bad filter type": {webhookDoc(map[string]any{"events": []any{map[string]any{"entity_type": "item", "event_types": []any{"update"},
			"filters": []any{map[string]any{"entity_type": "site", "entity_ids": []any{"1"}}}}}}), 422, "INVALID_FIELD:events[0].filters[0].entity_type"},
		"unknown trigger member": {webhookDoc(map[string]any{"events": []any{map[string]any{"entity_type": "item", "event_types": []any{"update"}, "when": "now"}}}), 422, "INVALID_FIELD:events[0].when"},
		"ftp url":                {webhookDoc(map[string]any{"url": "ftp://example.com/"}), 422, "INVALID_FIELD:url"},
		"relative url":           {webhookDoc(map[string]any{"url": "/hook"}), 422, "INVALID_FIELD:url"},
		"long url":               {webhookDoc(map[string]any{"url": "https://example.com/" + strings.Repeat("a", 2040)}), 422, "INVALID_FIELD:url"},
		"duplicate name":         {webhookDoc(map[string]any{"name": "taken"}), 422, "INVALID_FIELD:name"},
		"bad header name":        {webhookDoc(map[string]any{"headers": map[string]any{"Bad Name": "x"}}), 422, "INVALID_FIELD:headers.Bad Name"},
		"reserved header":        {webhookDoc(map[string]any{"headers": map[string]any{"Host": "x"}}), 422, "INVALID_FIELD:headers.Host"},
		"header CRLF":            {webhookDoc(map[string]any{"headers": map[string]any{"X-A": "a\r\nX-B: b"}}), 422, "INVALID_FIELD:headers.X-A"},
		"too many headers":       {webhookDoc(map[string]any{"headers": manyHeaders(51)}), 422, "INVALID_FIELD:headers"},
		"bad template":           {webhookDoc(map[string]any{"custom_payload": "{{#entity}}"}), 422, "INVALID_FIELD:custom_payload"},
		"name not string":        {webhookDoc(map[string]any{"name": 5}), 422, "INVALID_FIELD:name"},
		"missing required":       {webhookDoc(map[string]any{"custom_payload": "<absent>"}), 422, "INVALID_FIELD:custom_payload"},
		"unknown attribute":      {webhookDoc(map[string]any{"colour": "red"}), 422, "INVALID_FIELD:colour"},
		"wrong type":             {map[string]any{"data": map[string]any{"type": "item", "attributes": map[string]any{}}}, 422, "INVALID_FORMAT:<nil>"},
		"no data":                {map[string]any{"webhook": map[string]any{}}, 422, "INVALID_FORMAT:<nil>"},
		"malformed JSON":         {`{"data": {`, 400, "INVALID_JSON_BODY:<nil>"},
		"too large":              {`{"data":{"type":"webhook","attributes":{"name":"` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}}}`, 413, "REQUEST_BODY_TOO_LARGE:<nil>"},
		"id on create":           {map[string]any{"data": map[string]any{"type": "webhook", "id": "1", "attributes": map[string]any{}}}, 422, "INVALID_FORMAT:<nil>"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := a.do(a.tokenP1, "POST", "/webhooks", tc.body)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d; want %d: %s", r.status, tc.wantStatus, r.raw)
			}
			if fields := errorFields(r); !slices.Contains(fields, tc.wantError) {
				t.Errorf("errors %v; want %s", fields, tc.wantError)
			}
		})
	}
	// Nothing was written by any of them.
	if list := a.do(a.tokenP1, "GET", "/webhooks", nil); len(list.body["data"].([]any)) != 1 {
		t.Errorf("%d webhooks after the refused requests; want 1", len(list.body["data"].([]any)))
	}
	// Several problems are reported together.
	r := a.do(a.tokenP1, "POST", "/webhooks", webhookDoc(map[string]any{"url": "nope", "events": []any{}}))
	if f := errorFields(r); len(f) != 2 {
		t.Errorf("two problems reported as %v", f)
	}
	// An invalid update changes nothing.
	id := dataID(a.do(a.tokenP1, "POST", "/webhooks", webhookDoc(map[string]any{"name": "Other"})))
	if r := a.do(a.tokenP1, "PUT", "/webhooks/"+id, map[string]any{"data": map[string]any{"type": "webhook", "id": id, "attributes": map[string]any{"name": "Renamed", "url": "nope"}}}); r.status != 422 {
		t.Errorf("invalid update: %d", r.status)
	}
	if got := a.do(a.tokenP1, "GET", "/webhooks/"+id, nil); dataAttrs(got)["name"] != "Other" {
		t.Errorf("an invalid update renamed the webhook")
	}
	if r := a.do(a.tokenP1, "PUT", "/webhooks/"+id, map[string]any{"data": map[string]any{"type": "webhook", "id": "other", "attributes": map[string]any{}}}); r.status != 422 {
		t.Errorf("update with a mismatched id: %d", r.status)
	}
}

func manyHeaders(n int) map[string]any {
	h := map[string]any{}
	for i := 0; i < n; i++ {
		h[fmt.Sprintf("X-H%d", i)] = "v"
	}
	return h
}

func TestAuthAndProjectScope(t *testing.T) {
	a := newAPI(t)
	id := dataID(a.do(a.tokenP1, "POST", "/webhooks", webhookDoc(nil)))
	for _, tok := range []string{"", "nonsense", herald.NewToken(), "Bearer " + a.tokenP1} {
		r := a.do(tok, "GET", "/webhooks", nil)
		if r.status != 401 || !slices.Contains(errorFields(r), "INVALID_AUTHORIZATION_HEADER:<nil>") {
			t.Errorf("token %.12q: %d %v", tok, r.status, errorFields(r))
		}
	}
	for _, rt := range []struct{ method, path string }{
		{"GET", "/webhooks/" + id}, {"PUT", "/webhooks/" + id}, {"DELETE", "/webhooks/" + id},
		{"GET", "/webhooks/" + id + "/secret"}, {"POST", "/webhooks/" + id + "/secret/rotate"},
	} {
		var body any
		if rt.method == "PUT" {
			body = map[string]any{"data": map[string]any{"type": "webhook", "id": id, "attributes": map[string]any{"enabled": false}}}
		}
		if r := a.do(a.tokenP2, rt.method, rt.path, body); r.status != 404 {
			t.Errorf("%s %s with another project's token: %d", rt.method, rt.path, r.status)
		}
	}
	if list := a.do(a.tokenP2, "GET", "/webhooks", nil); len(list.body["data"].([]any)) != 0 {
		t.Errorf("another project lists this project's webhooks")
	}
	if got := a.do(a.tokenP1, "GET", "/webhooks/"+id, nil); dataAttrs(got)["enabled"] != true {
		t.Errorf("another project's update changed the webhook")
	}
	if r := a.do(a.tokenP1, "GET", "/nowhere", nil); r.status != 404 {
		t.Errorf("unknown route: %d", r.status)
	}
	if r := a.do(a.tokenP1, "PATCH", "/webhooks", nil); r.status != 405 {
		t.Errorf("wrong method: %d", r.status)
	}
	if strings.Contains(a.logs.String(), a.tokenP1) || strings.Contains(a.logs.String(), a.tokenP2) {
		t.Errorf("a token was logged")
	}
}

// TestConcurrentUpdatesAreAllApplied sends updates of different attributes of
// one webhook at once; every one must be in the final state, and the version
// must count each write.
func TestConcurrentUpdatesAreAllApplied(t *testing.T) {
	a := newAPI(t)
	id := dataID(a.do(a.tokenP1, "POST", "/webhooks", webhookDoc(nil)))
	updates := []map[string]any{
		{"name": "Renamed"}, {"url": "https://example.org/new"}, {"enabled": false},
		{"auto_retry": false}, {"custom_payload": "{}"}, {"headers": map[string]any{"X-New": "1"}},
		{"nested_items_in_payload": true}, {"payload_api_version": "2"},
	}
	var wg sync.WaitGroup
	for _, attrs := range updates {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := a.do(a.tokenP1, "PUT", "/webhooks/"+id, map[string]any{"data": map[string]any{"type": "webhook", "id": id, "attributes": attrs}})
			if r.status != 200 {
				t.Errorf("update %v: %d %s", attrs, r.status, r.raw)
			}
		}()
	}
	wg.Wait()
	got := dataAttrs(a.do(a.tokenP1, "GET", "/webhooks/"+id, nil))
	for _, attrs := range updates {
		for k, v := range attrs {
			if fmt.Sprint(got[k]) != fmt.Sprint(v) {
				t.Errorf("%s = %v; want %v (an update was lost)", k, got[k], v)
			}
		}
	}
	w, _ := a.store.GetWebhook(context.Background(), "p1", id)
	if w.Version != int64(1+len(updates)) {
		t.Errorf("version %d; want %d writes", w.Version, 1+len(updates))
	}
}

func TestSecretRotation(t *testing.T) {
	a := newAPI(t)
	id := dataID(a.do(a.tokenP1, "POST", "/webhooks", webhookDoc(nil)))
	first := a.do(a.tokenP1, "GET", "/webhooks/"+id+"/secret", nil)
	secret := dataAttrs(first)["secret"].(string)
	if _, err := signing.ParseSecret(secret); err != nil {
		t.Fatalf("secret %q: %v", secret, err)
	}
	if dataAttrs(first)["previous_secret_expires_at"] != nil {
		t.Errorf("a new webhook has a previous secret")
	}
	rotated := a.do(a.tokenP1, "POST", "/webhooks/"+id+"/secret/rotate", nil)
	next := dataAttrs(rotated)["secret"].(string)
	if next == secret || rotated.header.Get("Cache-Control") != "no-store" {
		t.Errorf("rotate gave %q (was %q), cache-control %q", next, secret, rotated.header.Get("Cache-Control"))
	}
	exp, err := time.Parse(time.RFC3339Nano, dataAttrs(rotated)["previous_secret_expires_at"].(string))
	if err != nil || time.Until(exp) < 23*time.Hour || time.Until(exp) > 25*time.Hour {
		t.Errorf("previous secret expires at %v; want in 24h", exp)
	}
	w, _ := a.store.GetWebhook(context.Background(), "p1", id)
	if w.Secret.Current != next || w.Secret.Previous != secret {
		t.Errorf("stored secrets %q/%q", w.Secret.Current, w.Secret.Previous)
	}
	if strings.Contains(a.logs.String(), secret) || strings.Contains(a.logs.String(), next) {
		t.Errorf("a signing secret was logged")
	}
}

func TestListCallsParameters(t *testing.T) {
	a := newAPI(t)
	for _, q := range []string{"page[limit]=0", "page[limit]=501", "page[offset]=-1", "order_by=name_asc", "order_by=created_at",
		"filter[fields][status][eq]=done", "filter[fields][entity_type][eq]=page", "filter[fields][created_at][gt]=yesterday",
		"filter[fields][created_at][eq]=2026-11-26T00:00:00Z", "filter[fields][colour][eq]=red", "filter[ids]="} {
		r := a.do(a.tokenP1, "GET", "/webhook_calls?"+q, nil)
		if r.status != 422 {
			t.Errorf("%s: %d; want 422", q, r.status)
		}
	}
	r := a.do(a.tokenP1, "GET", "/webhook_calls?page[limit]=500&order_by=last_sent_at_desc&filter[fields][status][eq]=failed&filter[fields][created_at][gt]=2026-11-26T00:00:00Z", nil)
	if r.status != 200 || r.body["meta"].(map[string]any)["total_count"] != 0.0 || len(r.body["included"].([]any)) != 0 {
		t.Errorf("valid query on no calls: %d %s", r.status, r.raw)
	}
	if r := a.do(a.tokenP1, "GET", "/webhook_calls/"+herald.NewID(time.Now()), nil); r.status != 404 {
		t.Errorf("unknown call: %d", r.status)
	}
	if r := a.do(a.tokenP1, "POST", "/webhook_calls/"+herald.NewID(time.Now())+"/resend_webhook", nil); r.status != 404 {
		t.Errorf("resend of an unknown call: %d", r.status)
	}
}

func TestResendQueuesOnce(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	id := dataID(a.do(a.tokenP1, "POST", "/webhooks", webhookDoc(nil)))
	now := time.Now().UTC().Truncate(time.Millisecond)
	ev := &herald.Event{ProjectID: "p1", EventID: "e1", Environment: "main", EntityType: "item", EventType: "publish",
		EventTriggeredAt: now, Entity: json.RawMessage(`{"id":"1","type":"item"}`)}
	call := herald.NewCall(herald.NewID(now), &herald.Webhook{ID: id}, ev, now, time.Hour)
	if _, err := a.store.CreateCall(ctx, call); err != nil {
		t.Fatal(err)
	}
	if r := a.do(a.tokenP2, "POST", "/webhook_calls/"+call.ID+"/resend_webhook", nil); r.status != 404 {
		t.Errorf("resend with another project's token: %d", r.status)
	}
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := a.do(a.tokenP1, "POST", "/webhook_calls/"+call.ID+"/resend_webhook", nil); r.status != 200 {
				t.Errorf("resend: %d %s", r.status, r.raw)
			}
		}()
	}
	wg.Wait()
	out, err := a.env.SQS.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: &a.env.QueueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("5 concurrent resends queued %d jobs; want 1", len(out.Messages))
	}
	job, _ := herald.DecodeJob([]byte(*out.Messages[0].Body))
	if job.Trigger != herald.TriggerManual || job.CallID != call.ID || job.ResendID == "" {
		t.Errorf("queued job %+v", job)
	}
	// The call's webhook deleted: resend is refused, naming why.
	if r := a.do(a.tokenP1, "DELETE", "/webhooks/"+id, nil); r.status != 200 {
		t.Fatal(r.raw)
	}
	if r := a.do(a.tokenP1, "POST", "/webhook_calls/"+call.ID+"/resend_webhook", nil); r.status != 422 || !slices.Contains(errorFields(r), "INVALID_FIELD:webhook") {
		t.Errorf("resend after the webhook was deleted: %d %v", r.status, errorFields(r))
	}
}
