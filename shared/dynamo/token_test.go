package dynamo_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
)

// listed is a token as a list shows it, for comparisons.
type listed struct{ id, project, label, created string }

func listOf(tokens []dynamo.Token) []listed {
	out := make([]listed, len(tokens))
	for i, t := range tokens {
		out[i] = listed{t.ID, t.Project, t.Label, t.CreatedAt.UTC().Format(time.RFC3339)}
	}
	return out
}

func equalLists(a, b []listed) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTokenListAndRevoke(t *testing.T) {
	store, env, clock := newStore(t)
	ctx := context.Background()
	tokens := map[string]string{} // name → token
	for _, tc := range []struct{ name, project, label string }{
		{"ci", "p1", "ci"}, {"cms", "p1", "cms"}, {"other", "p2", ""},
	} {
		tokens[tc.name] = herald.NewToken()
		if err := store.PutToken(ctx, herald.HashToken(tokens[tc.name]), tc.project, tc.label); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
	}
	id := func(name string) string { return herald.TokenID(herald.HashToken(tokens[name])) }
	at := func(min int) string { return t0.Add(time.Duration(min) * time.Minute).Format(time.RFC3339) }

	for name, tc := range map[string]struct {
		project string
		want    []listed
	}{
		"every project": {"", []listed{{id("ci"), "p1", "ci", at(0)}, {id("cms"), "p1", "cms", at(1)}, {id("other"), "p2", "", at(2)}}},
		"one project":   {"p1", []listed{{id("ci"), "p1", "ci", at(0)}, {id("cms"), "p1", "cms", at(1)}}},
		"no tokens":     {"p3", []listed{}},
	} {
		got, err := store.ListTokens(ctx, tc.project)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !equalLists(listOf(got), tc.want) {
			t.Errorf("%s: got %v, want %v", name, listOf(got), tc.want)
		}
	}

	// Revoking by id deletes both items: the token no longer opens its
	// project, and no longer shows in lists.
	env.Calls.Reset()
	revoked, err := store.RevokeToken(ctx, strings.ToUpper(id("cms")))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := (listed{revoked.ID, revoked.Project, revoked.Label, ""}), (listed{id("cms"), "p1", "cms", ""}); got != want {
		t.Errorf("revoked: got %v, want %v", got, want)
	}
	if got, want := env.Calls.String(), "DynamoDB.Query=1 DynamoDB.TransactWriteItems=1"; got != want {
		t.Errorf("revoking made the calls %s, want one Query and one TransactWriteItems", got)
	}
	if _, err := store.ProjectForToken(ctx, herald.HashToken(tokens["cms"])); herald.ErrorCode(err) != herald.EUNAUTHORIZED {
		t.Errorf("a revoked token: got %v, want EUNAUTHORIZED", err)
	}
	if p, err := store.ProjectForToken(ctx, herald.HashToken(tokens["ci"])); err != nil || p != "p1" {
		t.Errorf("the other token of the project: got %q %v, want p1", p, err)
	}
	got, err := store.ListTokens(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if want := []listed{{id("ci"), "p1", "ci", at(0)}}; !equalLists(listOf(got), want) {
		t.Errorf("after revoking: got %v, want %v", listOf(got), want)
	}

	for name, tc := range map[string]struct{ id, code string }{
		"again":         {id("cms"), herald.ENOTFOUND},
		"unknown":       {"0000000000", herald.ENOTFOUND},
		"too short":     {id("ci")[:7], herald.EINVALID},
		"not hex":       {"zzzzzzzzzz", herald.EINVALID},
		"the token":     {tokens["ci"], herald.EINVALID},
		"empty":         {"", herald.EINVALID},
		"whole hash ok": {herald.HashToken(tokens["other"]), ""},
	} {
		_, err := store.RevokeToken(ctx, tc.id)
		if got := herald.ErrorCode(err); got != tc.code && !(tc.code == "" && err == nil) {
			t.Errorf("%s: got %v, want code %q", name, err, tc.code)
		}
	}
}

// Two tokens whose ids share a prefix: the prefix is ambiguous and revokes
// nothing; a longer one picks one.
func TestRevokeAmbiguousID(t *testing.T) {
	store, _, _ := newStore(t)
	ctx := context.Background()
	a := strings.Repeat("ab", 32)
	b := "abababab" + strings.Repeat("cd", 28)
	for _, h := range []string{a, b} {
		if err := store.PutToken(ctx, h, "p1", ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.RevokeToken(ctx, "abababab"); herald.ErrorCode(err) != herald.EINVALID || !strings.Contains(err.Error(), "more than one") {
		t.Errorf("ambiguous id: got %v, want EINVALID naming more than one token", err)
	}
	if got, err := store.ListTokens(ctx, ""); err != nil || len(got) != 2 {
		t.Errorf("after the refused revoke: %d tokens (%v), want 2", len(got), err)
	}
	if got, err := store.RevokeToken(ctx, "ababababab"); err != nil || got.ID != a[:12] {
		t.Errorf("a longer id: got %v %v, want %s revoked", got.ID, err, a[:12])
	}
}

// Tokens stored before the token list (a T#<hash> item alone) still
// authenticate; the upgrade makes them listable and revocable, once.
func TestUpgradeListsOlderTokens(t *testing.T) {
	store, env, _ := newStore(t)
	ctx := context.Background()
	old := herald.NewToken()
	hash := herald.HashToken(old)
	// The item as the previous version wrote it.
	if _, err := env.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(env.Table), Item: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "T#" + hash}, "SK": &types.AttributeValueMemberS{Value: "T"},
		"type": &types.AttributeValueMemberS{Value: "token"}, "project": &types.AttributeValueMemberS{Value: "p1"},
		"label": &types.AttributeValueMemberS{Value: "old"}, "created_at": &types.AttributeValueMemberS{Value: "2026-01-02T03:04:05Z"},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := store.PutToken(ctx, herald.HashToken(herald.NewToken()), "p2", "new"); err != nil {
		t.Fatal(err)
	}
	if p, err := store.ProjectForToken(ctx, hash); err != nil || p != "p1" {
		t.Errorf("an old token: got %q %v, want p1", p, err)
	}
	if got, _ := store.ListTokens(ctx, "p1"); len(got) != 0 {
		t.Errorf("before indexing: got %v, want no p1 token listed", listOf(got))
	}
	for round, want := range []int{1, 0} {
		p, err := store.Upgrade(ctx, 1000, 0)
		if err != nil || p.Tokens != want || !p.Done {
			t.Errorf("round %d: %+v (%v), want %d token(s) listed and done", round+1, p, err, want)
		}
	}
	got, err := store.ListTokens(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if want := []listed{{herald.TokenID(hash), "p1", "old", "2026-01-02T03:04:05Z"}}; !equalLists(listOf(got), want) {
		t.Errorf("after indexing: got %v, want %v", listOf(got), want)
	}
	if _, err := store.RevokeToken(ctx, herald.TokenID(hash)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.ProjectForToken(ctx, hash); herald.ErrorCode(err) != herald.EUNAUTHORIZED {
		t.Errorf("the old token after revoking: got %v, want EUNAUTHORIZED", err)
	}
}
