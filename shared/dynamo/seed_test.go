package dynamo_test

import (
	"context"
	"strings"
	"testing"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/signing"
)

// TestSeed: a seeded project opens with its token and holds its webhooks as
// the API would have made them, each with a secret of its own; bad input is
// refused with what was wrong.
func TestSeed(t *testing.T) {
	store, _, _ := newStore(t)
	ctx := context.Background()
	token := herald.NewToken()
	updates := []herald.Trigger{{EntityType: "item", EventTypes: []string{"update"}}}
	fixed := herald.NewID(t0)
	hooks, err := store.Seed(ctx, "seeded", token, "test",
		dynamo.SeedWebhook{Name: "a", URL: "http://127.0.0.1:1/a", Events: updates},
		dynamo.SeedWebhook{ID: fixed, Name: "b", URL: "http://127.0.0.1:1/b", Events: updates, Headers: map[string]string{"X-Seed": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if project, err := store.ProjectForToken(ctx, herald.HashToken(token)); err != nil || project != "seeded" {
		t.Errorf("the token opens %q (%v); want project seeded", project, err)
	}
	stored, err := store.ListWebhooks(ctx, "seeded")
	if err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 2 || len(stored) != 2 || hooks[1].ID != fixed || hooks[0].Secret.Current == hooks[1].Secret.Current {
		t.Fatalf("seeded %+v, stored %+v; want two webhooks, the second with id %s, each with its own secret", hooks, stored, fixed)
	}
	for _, w := range stored {
		if _, err := signing.ParseSecret(w.Secret.Current); err != nil || !w.Enabled || w.CustomPayload != nil || w.Version != 1 {
			t.Errorf("webhook %s: secret %v, enabled %v, payload %v, version %d; want a signing secret, enabled, the default payload, version 1",
				w.Name, err, w.Enabled, w.CustomPayload, w.Version)
		}
	}
	if n, err := store.NameClaims(ctx, "seeded"); err != nil || n != 2 {
		t.Errorf("%d name claims (%v); want one per webhook, 2", n, err)
	}
	for name, tc := range map[string]struct {
		project string
		hook    dynamo.SeedWebhook
		want    string
	}{
		"a name taken":       {"seeded", dynamo.SeedWebhook{Name: "a", URL: "http://127.0.0.1:1/c", Events: updates}, "seed webhook a"},
		"no triggers":        {"seeded", dynamo.SeedWebhook{Name: "c", URL: "http://127.0.0.1:1/c"}, "events"},
		"an id not a ULID":   {"seeded", dynamo.SeedWebhook{ID: "demo-webhook", Name: "d", URL: "http://127.0.0.1:1/d", Events: updates}, "not a ULID"},
		"a bad project id":   {"a#b", dynamo.SeedWebhook{Name: "e", URL: "http://127.0.0.1:1/e", Events: updates}, "project id"},
		"a relative URL":     {"seeded", dynamo.SeedWebhook{Name: "f", URL: "/f", Events: updates}, "url"},
		"a token seen twice": {"seeded", dynamo.SeedWebhook{}, "already stored"},
	} {
		tok := ""
		if name == "a token seen twice" {
			tok = token
		}
		if _, err := store.Seed(ctx, tc.project, tok, "test", tc.hook); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error about %q", name, err, tc.want)
		}
	}
}
