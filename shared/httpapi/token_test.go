package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/httpapi"
	"github.com/heraldhq/herald/shared/signing"
	"github.com/heraldhq/herald/shared/sqs"
	"github.com/heraldhq/herald/test/testenv"
)

// A revoked token is refused once the API's token cache has let go of it:
// within TokenCacheTTL of revoking, on every warm function.
func TestRevokedTokenIsRefused(t *testing.T) {
	env := testenv.New(t)
	store := dynamo.New(dynamo.Deps{DB: env.DB, Table: env.Table})
	clock := testenv.NewClock(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{
		Webhooks: store, Calls: store, Tokens: store,
		Queue: sqs.New(env.SQS, env.QueueURL), Clock: clock,
		Log:       slog.New(slog.NewJSONHandler(testenv.LogWriter(t, "api"), nil)),
		NewSecret: signing.NewSecret,
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	token, unused := herald.NewToken(), herald.NewToken()
	testenv.Secret(t, token)
	testenv.Secret(t, unused)
	for _, tok := range []string{token, unused} {
		if err := store.PutToken(ctx, herald.HashToken(tok), "p1", "test"); err != nil {
			t.Fatal(err)
		}
	}
	status := func(tok string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/webhooks", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		return res.StatusCode
	}

	if got := status(token); got != http.StatusOK {
		t.Fatalf("before revoking: got %d, want 200", got)
	}
	for _, tok := range []string{token, unused} {
		if _, err := store.RevokeToken(ctx, herald.TokenID(herald.HashToken(tok))); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		name    string
		advance time.Duration
		token   string
		want    int
	}{
		{"a revoked token never used on this function", 0, unused, http.StatusUnauthorized},
		{"just revoked, still cached", 0, token, http.StatusOK},
		{"a moment before the cache time", httpapi.TokenCacheTTL - time.Second, token, http.StatusOK},
		{"past the cache time", 2 * time.Second, token, http.StatusUnauthorized},
		{"and from then on", time.Hour, token, http.StatusUnauthorized},
	} {
		clock.Advance(step.advance)
		if got := status(step.token); got != step.want {
			t.Errorf("%s: got %d, want %d", step.name, got, step.want)
		}
	}
}
