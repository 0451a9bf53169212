package dynamo_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/test/testenv"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func newStore(t *testing.T) (*dynamo.Store, *testenv.Env, *testenv.Clock) {
	t.Helper()
	env := testenv.New(t)
	clock := testenv.NewClock(t0)
	return dynamo.New(dynamo.Deps{DB: env.DB, Table: env.Table, Clock: clock}), env, clock
}

func newWebhook(t *testing.T, project, name string) *herald.Webhook {
	t.Helper()
	w, err := herald.NewWebhook(project, herald.NewID(t0), herald.WebhookInput{
		Name: herald.Some(name), URL: herald.Some("https://example.com/" + name),
		CustomPayload: herald.Some[*string](nil), Headers: herald.Some(map[string]string{"X-A": "1"}),
		Events:            herald.Some([]herald.Trigger{{EntityType: "item", EventTypes: []string{"update"}, Filters: []herald.Filter{{EntityType: "item_type", EntityIDs: []string{"1", "2"}}}}}),
		HTTPBasicUser:     herald.Some[*string](nil),
		HTTPBasicPassword: herald.Some[*string](nil),
	}, t0)
	if err != nil {
		t.Fatal(err)
	}
	w.Secret.Current = "whsec_test"
	return w
}

func TestWebhookRoundTrip(t *testing.T) {
	store, _, _ := newStore(t)
	ctx := context.Background()
	w := newWebhook(t, "p1", "Deploy")
	user, pw := "u", "p"
	w.HTTPBasicUser, w.HTTPBasicPassword = &user, &pw
	if err := store.CreateWebhook(ctx, w); err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	got, err := store.GetWebhook(ctx, "p1", w.ID)
	if err != nil {
		t.Fatalf("GetWebhook: %v", err)
	}
	if got.Name != "Deploy" || got.URL != w.URL || got.Version != 1 || *got.HTTPBasicPassword != "p" ||
		got.Events[0].Filters[0].EntityIDs[1] != "2" || got.Headers["X-A"] != "1" || !got.CreatedAt.Equal(t0) || got.Secret.Current != "whsec_test" {
		t.Errorf("read back %+v", got)
	}
	if _, err := store.GetWebhook(ctx, "p2", w.ID); herald.ErrorCode(err) != herald.ENOTFOUND {
		t.Errorf("another project read it: %v", err)
	}
	list, err := store.ListWebhooks(ctx, "p1")
	if err != nil || len(list) != 1 || list[0].ID != w.ID {
		t.Errorf("ListWebhooks = %v, %v", list, err)
	}
	if other, _ := store.ListWebhooks(ctx, "p2"); len(other) != 0 {
		t.Errorf("another project lists %d webhooks", len(other))
	}
}

func TestWebhookNamesAreUniquePerProject(t *testing.T) {
	store, _, _ := newStore(t)
	ctx := context.Background()
	if err := store.CreateWebhook(ctx, newWebhook(t, "p1", "Deploy")); err != nil {
		t.Fatal(err)
	}
	err := store.CreateWebhook(ctx, newWebhook(t, "p1", "deploy"))
	if herald.ErrorCode(err) != herald.EINVALID || herald.ErrorProblems(err)[0].Code != herald.ValidationUniqueness {
		t.Errorf("same name, other case: %v; want a uniqueness problem", err)
	}
	if err := store.CreateWebhook(ctx, newWebhook(t, "p2", "Deploy")); err != nil {
		t.Errorf("same name in another project: %v", err)
	}

	// Ten concurrent creates of one name: exactly one wins.
	var wg sync.WaitGroup
	results := make([]error, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = store.CreateWebhook(ctx, newWebhook(t, "p3", "Race"))
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range results {
		switch herald.ErrorCode(err) {
		case "":
			won++
		case herald.EINVALID:
		default:
			t.Errorf("concurrent create: %v", err)
		}
	}
	if list, _ := store.ListWebhooks(ctx, "p3"); won != 1 || len(list) != 1 {
		t.Errorf("%d creates won and %d webhooks exist; want 1 and 1", won, len(list))
	}
}

// TestWebhookWritesSurviveALostAnswer: the answer to a write is lost after
// DynamoDB applied it, and the SDK sends the write again. The retry's
// condition fails on what the first try wrote: that is the write
// succeeding, not the name being taken or the webhook changed meanwhile.
func TestWebhookWritesSurviveALostAnswer(t *testing.T) {
	env := testenv.New(t)
	cfg := env.AWS.Copy()
	lose := &loseAnswer{next: http.DefaultTransport}
	cfg.HTTPClient = &http.Client{Transport: lose}
	store := dynamo.New(dynamo.Deps{DB: dynamodb.NewFromConfig(cfg), Table: env.Table, Clock: testenv.NewClock(t0)})
	ctx := context.Background()
	const transact, put = "DynamoDB_20120810.TransactWriteItems", "DynamoDB_20120810.PutItem"

	w := newWebhook(t, "p1", "Deploy")
	lose.arm(transact)
	if err := store.CreateWebhook(ctx, w); err != nil {
		t.Fatalf("create whose first answer was lost: %v", err)
	}
	lose.check(t, "create")
	err := store.CreateWebhook(ctx, newWebhook(t, "p1", "deploy"))
	if herald.ErrorCode(err) != herald.EINVALID {
		t.Errorf("another webhook of the same name: %v; want EINVALID", err)
	}

	edit := func(from *herald.Webhook, in herald.WebhookInput, op, what string) *herald.Webhook {
		t.Helper()
		to, err := from.Update(in, t0)
		if err != nil {
			t.Fatal(err)
		}
		lose.arm(op)
		if err := store.UpdateWebhook(ctx, from, to); err != nil {
			t.Fatalf("%s whose first answer was lost: %v", what, err)
		}
		lose.check(t, what)
		return to
	}
	v2 := edit(w, herald.WebhookInput{Headers: herald.Some(map[string]string{"X-B": "2"})}, put, "update")
	edit(v2, herald.WebhookInput{Name: herald.Some("Deploy 2")}, transact, "rename")
	if got, err := store.GetWebhook(ctx, "p1", w.ID); err != nil || got.Name != "Deploy 2" || got.Version != 3 || got.Headers["X-B"] != "2" {
		t.Errorf("after the retried writes: %+v %v", got, err)
	}
	// A stale update is still a conflict: what is stored is not what it wrote.
	stale, _ := v2.Update(herald.WebhookInput{Headers: herald.Some(map[string]string{"X-C": "3"})}, t0)
	if err := store.UpdateWebhook(ctx, v2, stale); herald.ErrorCode(err) != herald.ECONFLICT {
		t.Errorf("an update of version 2 after version 3: %v; want ECONFLICT", err)
	}
	cur, _ := store.GetWebhook(ctx, "p1", w.ID)
	lose.arm(transact)
	if err := store.DeleteWebhook(ctx, cur); err != nil {
		t.Fatalf("delete whose first answer was lost: %v", err)
	}
	lose.check(t, "delete")
	if _, err := store.GetWebhook(ctx, "p1", w.ID); herald.ErrorCode(err) != herald.ENOTFOUND {
		t.Errorf("after the retried delete: %v; want ENOTFOUND", err)
	}
	again := newWebhook(t, "p1", "Deploy2")
	again.Name = "Deploy 2"
	if err := store.CreateWebhook(ctx, again); err != nil {
		t.Errorf("the deleted webhook's name is not free again: %v", err)
	}
}

// loseAnswer forwards every request, and replaces the answer to the next
// request of the armed operation with a 500 the SDK retries.
type loseAnswer struct {
	next  http.RoundTripper
	mu    sync.Mutex
	armed string
	sent  int
}

func (l *loseAnswer) arm(op string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed, l.sent = op, 0
}

// check fails the test unless the armed operation was sent twice: the try
// whose answer was lost and the SDK's retry.
func (l *loseAnswer) check(t *testing.T, what string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sent != 2 {
		t.Fatalf("%s: %s sent %d times; want 2", what, l.armed, l.sent)
	}
}

func (l *loseAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := l.next.RoundTrip(r)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil || r.Header.Get("X-Amz-Target") != l.armed {
		return res, err
	}
	if l.sent++; l.sent > 1 {
		return res, nil
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	body := `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"answer lost"}`
	return &http.Response{StatusCode: 500, Status: "500 Internal Server Error", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}}, Request: r,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}, nil
}

func TestWebhookUpdateIsConditional(t *testing.T) {
	store, _, _ := newStore(t)
	ctx := context.Background()
	w := newWebhook(t, "p1", "A")
	if err := store.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	b := newWebhook(t, "p1", "B")
	if err := store.CreateWebhook(ctx, b); err != nil {
		t.Fatal(err)
	}
	read, _ := store.GetWebhook(ctx, "p1", w.ID)
	renamed, _ := read.Update(herald.WebhookInput{Name: herald.Some("A2")}, t0)
	if err := store.UpdateWebhook(ctx, read, renamed); err != nil {
		t.Fatalf("rename: %v", err)
	}
	// A second writer holding the old version loses.
	stale, _ := read.Update(herald.WebhookInput{Enabled: herald.Some(false)}, t0)
	if err := store.UpdateWebhook(ctx, read, stale); herald.ErrorCode(err) != herald.ECONFLICT {
		t.Errorf("stale update: %v; want ECONFLICT", err)
	}
	// The old name is free again; the new one is taken.
	if err := store.CreateWebhook(ctx, newWebhook(t, "p1", "A")); err != nil {
		t.Errorf("old name after rename: %v", err)
	}
	cur, _ := store.GetWebhook(ctx, "p1", w.ID)
	clash, _ := cur.Update(herald.WebhookInput{Name: herald.Some("b")}, t0)
	if err := store.UpdateWebhook(ctx, cur, clash); herald.ErrorCode(err) != herald.EINVALID {
		t.Errorf("rename onto a taken name: %v; want EINVALID", err)
	}
	if got, _ := store.GetWebhook(ctx, "p1", w.ID); got.Name != "A2" || got.Version != 2 {
		t.Errorf("after the refused rename: %q v%d; want A2 v2", got.Name, got.Version)
	}
	if err := store.DeleteWebhook(ctx, cur); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := store.CreateWebhook(ctx, newWebhook(t, "p1", "A2")); err != nil {
		t.Errorf("name of a deleted webhook: %v", err)
	}
}

func TestTokens(t *testing.T) {
	store, _, _ := newStore(t)
	ctx := context.Background()
	tok := herald.NewToken()
	if err := store.PutToken(ctx, herald.HashToken(tok), "p1", "ci"); err != nil {
		t.Fatal(err)
	}
	if p, err := store.ProjectForToken(ctx, herald.HashToken(tok)); err != nil || p != "p1" {
		t.Errorf("ProjectForToken = %q, %v", p, err)
	}
	if _, err := store.ProjectForToken(ctx, herald.HashToken(herald.NewToken())); herald.ErrorCode(err) != herald.EUNAUTHORIZED {
		t.Errorf("unknown token: %v", err)
	}
	if err := store.PutToken(ctx, herald.HashToken(tok), "p2", ""); err == nil {
		t.Errorf("a token hash was stored twice")
	}
}
