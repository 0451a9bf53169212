// Package iam_test holds each function's IAM policy in template.yaml to the
// AWS calls its code makes: it runs every kind of work a function does, with
// SDK clients that record each call as the IAM action it needs, and compares
// that with the actions the template grants. An action the code needs and
// the template lacks fails on AWS with AccessDenied; one the template grants
// and no code uses is a permission to take away (least privilege).
package iam_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/heraldhq/herald/shared/delivery"
	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/httpapi"
	"github.com/heraldhq/herald/shared/ingest"
	"github.com/heraldhq/herald/shared/sender"
	"github.com/heraldhq/herald/shared/signing"
	"github.com/heraldhq/herald/shared/sqs"
	"github.com/heraldhq/herald/test/testenv"
	"github.com/heraldhq/herald/tools/localstack"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// actions records the IAM actions an SDK configuration's calls need, and
// whether any went to a table's index.
type actions struct {
	mu      sync.Mutex
	seen    map[string]bool
	onIndex bool
}

func (a *actions) add(action string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen[action] = true
}

// attach records every call of cfg's clients as the actions IAM checks for
// it: a transaction needs the action of each of its items, a batch send the
// action of a single send.
func (a *actions) attach(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("HeraldIAM",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				service, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
				switch p := in.Parameters.(type) {
				case *dynamodb.TransactWriteItemsInput:
					for _, it := range p.TransactItems {
						switch {
						case it.Put != nil:
							a.add("dynamodb:PutItem")
						case it.Delete != nil:
							a.add("dynamodb:DeleteItem")
						case it.Update != nil:
							a.add("dynamodb:UpdateItem")
						case it.ConditionCheck != nil:
							a.add("dynamodb:ConditionCheckItem")
						}
					}
				case *dynamodb.QueryInput:
					a.add("dynamodb:Query")
					if p.IndexName != nil {
						a.mu.Lock()
						a.onIndex = true
						a.mu.Unlock()
					}
				case *awssqs.SendMessageBatchInput:
					a.add("sqs:SendMessage")
				default:
					a.add(strings.ToLower(service) + ":" + op)
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
}

func (a *actions) sorted() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := slices.Sorted(maps.Keys(a.seen))
	return out
}

// granted reads a function's policy in template.yaml: its actions, and
// whether it grants them on the table's indexes.
func granted(t *testing.T, function string) (acts []string, onIndex bool) {
	t.Helper()
	tmpl, err := localstack.LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, ok := tmpl.Resources[function]
	if !ok {
		t.Fatalf("template.yaml has no %s", function)
	}
	// SAM policies on the function, or the policies of the role it names.
	type statement struct {
		Action   any `json:"Action"`
		Resource any `json:"Resource"` // one ARN or a list
	}
	var statements []statement
	raw, _ := json.Marshal(res.Properties["Policies"])
	if role, ok := res.Properties["Role"].(map[string]any); ok {
		getAtt, _ := role["Fn::GetAtt"].([]any)
		if len(getAtt) != 2 {
			t.Fatalf("%s's Role is not a !GetAtt of a role of the template", function)
		}
		raw, _ = json.Marshal(tmpl.Resources[fmt.Sprint(getAtt[0])].Properties["Policies"])
		var policies []struct {
			PolicyDocument struct{ Statement []statement }
		}
		if err := json.Unmarshal(raw, &policies); err != nil {
			t.Fatalf("%s's role's Policies: %v", function, err)
		}
		for _, p := range policies {
			statements = append(statements, p.PolicyDocument.Statement...)
		}
	} else {
		var policies []struct{ Statement []statement }
		if err := json.Unmarshal(raw, &policies); err != nil {
			t.Fatalf("%s's Policies: %v", function, err)
		}
		for _, p := range policies {
			statements = append(statements, p.Statement...)
		}
	}
	for _, st := range statements {
		var stActs []string
		switch a := st.Action.(type) {
		case string:
			stActs = []string{a}
		case []any:
			for _, x := range a {
				stActs = append(stActs, fmt.Sprint(x))
			}
		}
		for _, a := range stActs {
			if !platformAction(a) {
				acts = append(acts, a)
			}
		}
		if b, _ := json.Marshal(st.Resource); strings.Contains(string(b), "/index/*") {
			onIndex = true
		}
	}
	slices.Sort(acts)
	return slices.Compact(acts), onIndex
}

// platformAction reports whether an action is Lambda's to use on the
// function's behalf (its event source mappings' polling, its logs, traces
// and network interfaces), not the code's.
func platformAction(a string) bool {
	switch a {
	case "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes":
		return true
	}
	return strings.HasPrefix(a, "logs:") || strings.HasPrefix(a, "xray:") || strings.HasPrefix(a, "ec2:")
}

// check compares what a function's work used with what its policy grants.
func check(t *testing.T, function string, used *actions) {
	t.Helper()
	want, wantIndex := granted(t, function)
	got := used.sorted()
	for _, a := range got {
		if !slices.Contains(want, a) {
			t.Errorf("%s calls %s, which template.yaml does not grant it", function, a)
		}
	}
	for _, a := range want {
		if !slices.Contains(got, a) {
			t.Errorf("template.yaml grants %s %s, which its code never calls", function, a)
		}
	}
	if used.onIndex != wantIndex {
		t.Errorf("%s queries an index: %v; its policy covers the table's indexes: %v", function, used.onIndex, wantIndex)
	}
	t.Logf("%s: %v", function, got)
}

// recorded returns DynamoDB and SQS clients on env whose calls go to used.
func recorded(env *testenv.Env, used *actions) (*dynamodb.Client, *awssqs.Client) {
	cfg := testenv.AWSConfig(env.Moto.URL)
	used.attach(&cfg)
	return dynamodb.NewFromConfig(cfg), awssqs.NewFromConfig(cfg)
}

func newWebhook(t *testing.T, store *dynamo.Store, project, name, url string, now time.Time) *herald.Webhook {
	t.Helper()
	w, err := herald.NewWebhook(project, herald.NewID(now), herald.WebhookInput{
		Name: herald.Some(name), URL: herald.Some(url),
		CustomPayload: herald.Some[*string](nil), Headers: herald.Some(map[string]string{}),
		Events:        herald.Some([]herald.Trigger{{EntityType: "item", EventTypes: []string{"publish"}}}),
		HTTPBasicUser: herald.Some[*string](nil), HTTPBasicPassword: herald.Some[*string](nil),
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	w.Secret.Current = signing.NewSecret()
	if err := store.CreateWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	return w
}

func event(id string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"project_id":"p1","event_id":%q,"environment":"main","entity_type":"item","event_type":"publish",
		"event_triggered_at":"2026-11-26T10:54:09Z","entity":{"id":"1","type":"item"}}`, id))
}

// halfStore fails the first call of every event it writes: an ingest that
// stopped half way.
type halfStore struct{ *dynamo.Store }

func (s halfStore) CreateCall(ctx context.Context, c *herald.Call) (bool, error) {
	return false, fmt.Errorf("injected: stopped while writing calls")
}

// TestIngestPolicy runs ingest's work: a new event, one that matches
// nothing, the same event again, and an event whose first ingest stopped
// before its calls were written, sent again minutes later.
func TestIngestPolicy(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	// Beside today's items, an older version's: an event seen again whose
	// call is of the older shape moves it.
	clk := testenv.NewClock(env.PutFixture(t, olderItems).Add(time.Hour))
	fixtures := dynamo.New(dynamo.Deps{DB: env.DB, Table: env.Table, Clock: clk})
	newWebhook(t, fixtures, "p1", "a", "https://example.com/a", clk.Now())
	newWebhook(t, fixtures, "p1", "b", "https://example.com/b", clk.Now())

	used := &actions{seen: map[string]bool{}}
	db, q := recorded(env, used)
	store := dynamo.New(dynamo.Deps{DB: db, Table: env.Table, Clock: clk})
	handler := func(s ingest.Store) *ingest.Handler {
		return ingest.New(ingest.Deps{Store: s, Queue: sqs.New(q, env.FirstURL), Clock: clk,
			Log: slog.New(slog.DiscardHandler), Retention: 30 * 24 * time.Hour})
	}
	for _, id := range []string{"evt-1", "evt-1", "evt-pending"} {
		if _, err := handler(store).Handle(ctx, event(id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := handler(store).Handle(ctx, json.RawMessage(`{"project_id":"p1","event_id":"evt-x","environment":"main","entity_type":"upload","event_type":"create","event_triggered_at":"2026-11-26T10:54:09Z","entity":{"id":"1","type":"upload"}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := handler(halfStore{store}).Handle(ctx, event("evt-2")); err == nil {
		t.Fatal("an ingest that stopped half way reported no error")
	}
	clk.Advance(5 * time.Minute)
	if _, err := handler(store).Handle(ctx, event("evt-2")); err != nil {
		t.Fatal(err)
	}
	check(t, "IngestFunction", used)
}

// olderItems are what the version before the lean data path wrote.
const olderItems = "../../shared/dynamo/testdata/legacy-items.json"

// TestDeliveryPolicy runs delivery's work: a first attempt that succeeds,
// one that fails and queues its retry, a retry parked and swept, a resend,
// a call whose webhook was deleted, and the upgrade of older items; and
// health's: failure streaks that raise failing (twice in one hour: raised
// again), exhausted and recovered through ingest, and an auto-disable.
func TestDeliveryPolicy(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	// Beside today's items, an older version's: the sweep moves its parked
	// retry, and the upgrade step after it the rest.
	clk := testenv.NewClock(env.PutFixture(t, olderItems).Add(time.Hour))
	fixtures := dynamo.New(dynamo.Deps{DB: env.DB, Table: env.Table, Clock: clk})
	status := http.StatusOK
	var mu sync.Mutex
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
	}))
	defer rcv.Close()
	hook := newWebhook(t, fixtures, "p1", "a", rcv.URL, clk.Now())
	gone := newWebhook(t, fixtures, "p1", "gone", rcv.URL, clk.Now())
	ops := newWebhook(t, fixtures, "p1", "ops", rcv.URL, clk.Now())
	opsOn, _ := ops.Update(herald.WebhookInput{Events: herald.Some([]herald.Trigger{{EntityType: herald.EntityWebhook,
		EventTypes: herald.EventTypes(herald.EntityWebhook)}})}, clk.Now())
	if err := fixtures.UpdateWebhook(ctx, ops, opsOn); err != nil {
		t.Fatal(err)
	}

	used := &actions{seen: map[string]bool{}}
	db, q := recorded(env, used)
	send, err := sender.New(sender.Options{AllowPrivate: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	store := dynamo.New(dynamo.Deps{DB: db, Table: env.Table, Clock: clk})
	raiser := ingest.New(ingest.Deps{Store: store, Queue: sqs.New(q, env.FirstURL), Clock: clk, Log: slog.New(slog.DiscardHandler),
		Retention: 30 * 24 * time.Hour, WebhookTTL: time.Nanosecond})
	h := delivery.New(delivery.Deps{Store: store, Queue: sqs.New(q, env.QueueURL), Sender: send, Clock: clk, Log: slog.New(slog.DiscardHandler),
		Health: store, AutoDisableAfter: 2 * time.Hour, WebhookTTL: time.Nanosecond,
		Raise: func(ctx context.Context, ev *herald.Event, s *herald.Subject) error {
			_, err := raiser.Raise(ctx, ev, s)
			return err
		}})
	newCall := func(w *herald.Webhook) (*herald.Call, herald.Job) {
		ev := &herald.Event{ProjectID: "p1", EventID: herald.NewID(clk.Now()), Environment: "main", EntityType: "item", EventType: "publish",
			EventTriggeredAt: clk.Now(), Entity: json.RawMessage(`{"id":"1","type":"item"}`)}
		c := herald.NewCall(herald.NewID(clk.Now()), w, ev, clk.Now(), 30*24*time.Hour)
		doc, _ := herald.MarshalPayload(c.Payload)
		if _, _, err := fixtures.ClaimEvent(ctx, "p1", ev.EventID, []herald.CallRef{{WebhookID: w.ID, CallID: c.ID}}, doc, c.ExpiresAt); err != nil {
			t.Fatal(err)
		}
		if _, err := fixtures.CreateCall(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c, herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerFirst, WebhookID: w.ID, EntityType: c.EntityType,
			EventType: c.EventType, EventID: ev.EventID, ExpiresAt: c.ExpiresAt.Unix(), Payload: doc}
	}
	deliver := func(job herald.Job) {
		body, _ := json.Marshal(job)
		res, err := h.HandleSQS(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: herald.NewID(clk.Now()), Body: string(body),
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}}}})
		if err != nil || len(res.BatchItemFailures) > 0 {
			t.Fatalf("deliver %+v: %v %v", job, err, res.BatchItemFailures)
		}
	}
	ok, okFirst := newCall(hook)
	deliver(okFirst)
	mu.Lock()
	status = http.StatusInternalServerError
	mu.Unlock()
	failing, failingFirst := newCall(hook)
	// Received again (the function stopped before the message was
	// deleted): the first attempt is claimed, not assumed.
	failingFirst.Replay = true
	deliver(failingFirst)
	for retry := 1; retry <= 3; retry++ { // the third waits 30 minutes: parked
		clk.Advance(10 * time.Minute)
		if retry == 3 {
			clk.Advance(25 * time.Minute)
			if _, err := h.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
		}
		deliver(herald.Job{ProjectID: "p1", CallID: failing.ID, Trigger: herald.TriggerAuto, Retry: retry})
	}
	if _, err := fixtures.RequestResend(ctx, "p1", ok.ID, "r1"); err != nil {
		t.Fatal(err)
	}
	deliver(herald.Job{ProjectID: "p1", CallID: ok.ID, Trigger: herald.TriggerManual, ResendID: "r1"})
	_, orphanFirst := newCall(gone)
	if err := fixtures.DeleteWebhook(ctx, gone); err != nil {
		t.Fatal(err)
	}
	deliver(orphanFirst)

	// Health: a webhook without retries fails four times (exhausted,
	// failing), succeeds (recovered), fails four times again in the same
	// hour (failing raised again: ingest reads its calls); then fails for
	// the auto-disable window.
	flapping := newWebhook(t, fixtures, "p1", "flapping", rcv.URL, clk.Now())
	flapOff, _ := flapping.Update(herald.WebhookInput{AutoRetry: herald.Some(false)}, clk.Now())
	if err := fixtures.UpdateWebhook(ctx, flapping, flapOff); err != nil {
		t.Fatal(err)
	}
	setStatus := func(code int) {
		mu.Lock()
		status = code
		mu.Unlock()
	}
	clk.Advance(time.Hour - clk.Now().Sub(clk.Now().Truncate(time.Hour)) + time.Second) // the start of an hour
	for round := range 2 {
		setStatus(http.StatusInternalServerError)
		for range herald.FailingAfter {
			clk.Advance(time.Second)
			_, job := newCall(flapOff)
			deliver(job)
		}
		if round == 0 {
			setStatus(http.StatusOK)
			clk.Advance(time.Second)
			_, job := newCall(flapOff)
			deliver(job)
		}
	}
	clk.Advance(2 * time.Hour)
	_, job := newCall(flapOff)
	deliver(job)
	if w, _ := fixtures.GetWebhook(ctx, "p1", flapping.ID); w.Enabled {
		t.Fatal("the webhook was not auto-disabled: the scenario misses that path")
	}
	check(t, "DeliveryFunction", used)
}

// TestAPIPolicy runs every route of the API, with a list whose count keeps
// the counts of closed hours, a test send and bulk resends.
func TestAPIPolicy(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	clk := testenv.NewClock(time.Now().UTC().Truncate(time.Millisecond))
	fixtures := dynamo.New(dynamo.Deps{DB: env.DB, Table: env.Table, Clock: clk})
	token := herald.NewToken()
	if err := fixtures.PutToken(ctx, herald.HashToken(token), "p1", ""); err != nil {
		t.Fatal(err)
	}
	used := &actions{seen: map[string]bool{}}
	db, q := recorded(env, used)
	store := dynamo.New(dynamo.Deps{DB: db, Table: env.Table, Clock: clk})
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{Webhooks: store, Calls: store, Tokens: store, Health: store,
		Queue: sqs.New(q, env.QueueURL), Clock: clk, Log: slog.New(slog.DiscardHandler), NewSecret: signing.NewSecret}))
	defer srv.Close()
	do := func(method, path string, body any) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = strings.NewReader(string(raw))
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		if res.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %v", method, path, res.StatusCode, out)
		}
		return out
	}
	doc := func(attrs map[string]any) map[string]any {
		return map[string]any{"data": map[string]any{"type": "webhook", "attributes": attrs}}
	}
	created := do("POST", "/webhooks", doc(map[string]any{"name": "a", "url": "https://example.com/a", "custom_payload": nil,
		"headers": map[string]any{}, "events": []any{map[string]any{"entity_type": "item", "event_types": []any{"publish"}}},
		"http_basic_user": nil, "http_basic_password": nil}))
	id := created["data"].(map[string]any)["id"].(string)
	do("GET", "/webhooks", nil)
	do("GET", "/webhooks/"+id, nil)
	do("PUT", "/webhooks/"+id, map[string]any{"data": map[string]any{"type": "webhook", "id": id, "attributes": map[string]any{"enabled": false}}})
	do("PUT", "/webhooks/"+id, map[string]any{"data": map[string]any{"type": "webhook", "id": id, "attributes": map[string]any{"name": "renamed"}}})
	do("GET", "/webhooks/"+id+"/secret", nil)
	do("POST", "/webhooks/"+id+"/secret/rotate", nil)
	// Calls two hours back, so that counting keeps the closed hours.
	hook, err := fixtures.GetWebhook(ctx, "p1", id)
	if err != nil {
		t.Fatal(err)
	}
	var callID string
	for i := range 3 {
		at := clk.Now().Add(-2*time.Hour + time.Duration(i)*time.Minute)
		ev := &herald.Event{ProjectID: "p1", EventID: fmt.Sprint("evt-", i), Environment: "main", EntityType: "item", EventType: "publish",
			EventTriggeredAt: at, Entity: json.RawMessage(`{"id":"1","type":"item"}`)}
		c := herald.NewCall(herald.NewID(at), hook, ev, at, 30*24*time.Hour)
		if _, err := fixtures.CreateCall(ctx, c); err != nil {
			t.Fatal(err)
		}
		callID = c.ID
	}
	do("GET", "/webhook_calls", nil)
	do("GET", "/webhook_calls?order_by=last_sent_at_desc&filter[ids]="+callID, nil)
	do("GET", "/webhook_calls/"+callID, nil)
	do("POST", "/webhook_calls/"+callID+"/resend_webhook", nil)
	do("PUT", "/webhooks/"+id, map[string]any{"data": map[string]any{"type": "webhook", "id": id, "attributes": map[string]any{"enabled": true}}})
	do("POST", "/webhooks/"+id+"/ping", nil)
	do("POST", "/webhook_calls/bulk_resend?filter[fields][webhook_id][eq]="+id+"&dry_run=true", nil)
	do("POST", "/webhook_calls/bulk_resend?filter[fields][webhook_id][eq]="+id, nil)
	do("POST", "/webhook_calls/bulk_resend?filter[fields][webhook_id][eq]="+id, nil) // again: the same bulk resend
	do("POST", "/webhook_payload_preview", map[string]any{"data": map[string]any{"type": "webhook_payload_preview",
		"attributes": map[string]any{"url": "https://example.com/", "entity_type": "item", "event_type": "publish"}}})
	do("DELETE", "/webhooks/"+id, nil)
	check(t, "ApiFunction", used)
}
