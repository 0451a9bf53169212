package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/test/testenv"
)

// The calls in testdata/legacy-items.json, written by the version before
// the lean data path: one never attempted, one that succeeded with a
// resend pending, one whose retry is parked.
const (
	legacyPending = "01M8KBYJ80BPQB2SHJV6JEVFXX"
	legacySuccess = "01M8KBYK7824JJEQQN2SSX2NQH"
	legacyParked  = "01M8KBYN5R3DRMZ80EQ58Q3YQK"
)

// olderTable loads the older version's items, and a token made before token
// lists, into a fresh table.
func olderTable(t *testing.T) (*dynamo.Store, *testenv.Env, *testenv.Clock, string) {
	t.Helper()
	store, env, clock := newStore(t)
	clock.Set(env.PutFixture(t, "testdata/legacy-items.json").Add(time.Minute))
	hash := herald.HashToken(herald.NewToken())
	if _, err := env.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(env.Table), Item: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "T#" + hash}, "SK": &types.AttributeValueMemberS{Value: "T"},
		"type": &types.AttributeValueMemberS{Value: "token"}, "project": &types.AttributeValueMemberS{Value: "p1"},
		"label": &types.AttributeValueMemberS{Value: "old"}, "created_at": &types.AttributeValueMemberS{Value: "2026-01-02T03:04:05Z"},
	}}); err != nil {
		t.Fatal(err)
	}
	return store, env, clock, hash
}

func listedCalls(t *testing.T, store *dynamo.Store) map[string]*herald.Call {
	t.Helper()
	calls, _, err := store.ListCalls(context.Background(), "p1", herald.CallQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*herald.Call{}
	for _, c := range calls {
		out[c.ID] = c
	}
	return out
}

func legacyLeft(t *testing.T, env *testenv.Env) int {
	t.Helper()
	n := 0
	for _, id := range []string{legacyPending, legacySuccess, legacyParked} {
		out, err := env.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(env.Table),
			Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "C#p1#" + id}, "SK": &types.AttributeValueMemberS{Value: "C"}}})
		if err != nil {
			t.Fatal(err)
		}
		if out.Item != nil {
			n++
		}
	}
	return n
}

// TestUpgradeMovesAnOlderTable: the upgrade steps move every older call and
// token, step after step from where the last stopped, and then only say
// they are done; what they moved reads, lists and sweeps as before.
func TestUpgradeMovesAnOlderTable(t *testing.T) {
	store, env, _, hash := olderTable(t)
	ctx := context.Background()
	if n := len(listedCalls(t, store)); n != 0 {
		t.Fatalf("before the upgrade, %d calls listed; older calls are not in the activity log", n)
	}

	// Steps of 3 items: the table's 9 items take several, each going on
	// from the saved place.
	var total herald.UpgradeProgress
	steps := 0
	for !total.Done {
		if steps++; steps > 10 {
			t.Fatal("the upgrade does not end")
		}
		p, err := store.Upgrade(ctx, 3, 0)
		if err != nil {
			t.Fatal(err)
		}
		if p.Scanned > 3 {
			t.Errorf("step %d scanned %d items, bound 3", steps, p.Scanned)
		}
		total.Calls += p.Calls
		total.Tokens += p.Tokens
		total.Scanned += p.Scanned
		total.Done = p.Done
	}
	if steps < 3 || total.Calls != 3 || total.Tokens != 1 || total.Scanned < 9 {
		t.Errorf("%d steps did %+v; want several, 3 calls and 1 token moved, every item scanned", steps, total)
	}
	if n := legacyLeft(t, env); n != 0 {
		t.Errorf("%d older call items left", n)
	}

	// Done is remembered: the next step reads one item and scans nothing.
	env.Calls.Reset()
	if p, err := store.Upgrade(ctx, 1000, 0); err != nil || !p.Done || p.Scanned != 0 {
		t.Errorf("after the upgrade: %+v %v, want done without scanning", p, err)
	}
	if env.Calls.Get("DynamoDB.Scan") != 0 || env.Calls.Service("DynamoDB") != 1 {
		t.Errorf("a finished upgrade made calls %s, want one GetItem", env.Calls)
	}

	calls := listedCalls(t, store)
	if len(calls) != 3 {
		t.Fatalf("%d calls listed after the upgrade, want 3", len(calls))
	}
	for id, want := range map[string]herald.Status{legacyPending: herald.StatusPending, legacySuccess: herald.StatusSuccess, legacyParked: herald.StatusRescheduled} {
		if c := calls[id]; c == nil || c.Status != want || c.WebhookID != "01M8BMRD80ZPHWQFY5Y12CN323" {
			t.Errorf("call %s: %+v, want %s of the fixture's webhook", id, c, want)
		}
	}
	success, err := store.GetCall(ctx, "p1", legacySuccess)
	if err != nil || success.ResendID != "r-legacy" || len(success.Attempts) == 0 || success.RequestURL == "" {
		t.Errorf("the successful call: %+v %v, want its attempts, request and pending resend kept", success, err)
	}
	if p, err := store.EventPayload(ctx, "p1", success.EventID); err != nil || p.EventID != success.EventID {
		t.Errorf("its event's payload: %+v %v, want it moved to the event", p, err)
	}

	// The parked retry is still found by the sweep's index, due when it was.
	parked := calls[legacyParked]
	due, err := store.DueRetries(ctx, 3, parked.NextRetryAt.Add(time.Minute), nil, 10)
	if err != nil || len(due) != 1 || due[0].CallID != legacyParked || !due[0].Due.Equal(*parked.NextRetryAt) {
		t.Errorf("due retries: %+v %v, want the parked call due at %v", due, err, parked.NextRetryAt)
	}
	// The older token is listed, and revocable by id.
	if tokens, err := store.ListTokens(ctx, "p1"); err != nil || len(tokens) != 1 || tokens[0].ID != herald.TokenID(hash) {
		t.Errorf("tokens: %+v %v, want the older one listed", tokens, err)
	}
}

// TestOlderCallsMoveWhenTouched: before the upgrade reaches them, reads by
// id, claims and resends move older calls on the spot, one at a time.
func TestOlderCallsMoveWhenTouched(t *testing.T) {
	store, env, clock, _ := olderTable(t)
	ctx := context.Background()

	c, err := store.GetCall(ctx, "p1", legacyPending)
	if err != nil || c.Status != herald.StatusPending || c.EventID != "evt-pending" {
		t.Fatalf("read by id: %+v %v", c, err)
	}
	if got := listedCalls(t, store); len(got) != 1 || got[legacyPending] == nil {
		t.Errorf("after one read, listed %v; want the call read, alone", got)
	}
	if n := legacyLeft(t, env); n != 2 {
		t.Errorf("%d older items left, want 2", n)
	}

	// An older call's pending resend is kept: a second one waits for it,
	// then takes over once it is stale, as today's do.
	if queued, err := store.RequestResend(ctx, "p1", legacySuccess, "r-new"); err != nil || queued {
		t.Errorf("resend while the older one is pending: %v %v, want it served by that one", queued, err)
	}
	clock.Advance(6 * time.Minute)
	if queued, err := store.RequestResend(ctx, "p1", legacySuccess, "r-new"); err != nil || !queued {
		t.Errorf("resend once the older one is stale: %v %v", queued, err)
	}
	// The parked retry's job claims its attempt, as the older version's would.
	got, res, err := store.ClaimAttempt(ctx, herald.Job{ProjectID: "p1", CallID: legacyParked, Trigger: herald.TriggerAuto, Retry: 1}, "lease-1", time.Minute)
	if err != nil || got == nil || res != herald.Claimed {
		t.Errorf("claim the parked retry: %v %v %v", got, res, err)
	}
	if n := legacyLeft(t, env); n != 0 {
		t.Errorf("%d older items left, want none", n)
	}
	if c, _ := store.GetCall(ctx, "p1", legacySuccess); c == nil || c.ResendID != "r-new" {
		t.Errorf("the resent call: %+v, want resend r-new pending", c)
	}
	// Nothing was left for the upgrade but the token.
	p, err := store.Upgrade(ctx, 1000, 0)
	if err != nil || !p.Done || p.Calls != 0 || p.Tokens != 1 {
		t.Errorf("upgrade after the moves: %+v %v", p, err)
	}
}
