package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/signing"
)

// SeedWebhook is a webhook Seed creates: enabled, with the default payload,
// no basic auth and a new signing secret.
type SeedWebhook struct {
	ID      string // a new ULID if ""
	Name    string
	URL     string
	Events  []herald.Trigger
	Headers map[string]string
}

// Seed starts a project for the local tools and tests (make dev, make load,
// make chaos, make cost): it stores the hash of token, labelled label (no
// token if ""), and creates the webhooks, through the same writes as the
// API. It returns the webhooks as stored, secrets included.
func (s *Store) Seed(ctx context.Context, project, token, label string, hooks ...SeedWebhook) ([]*herald.Webhook, error) {
	if token != "" {
		if err := s.PutToken(ctx, herald.HashToken(token), project, label); err != nil {
			return nil, fmt.Errorf("seed a token for project %s: %w", project, err)
		}
	}
	now := s.clock.Now().UTC()
	out := make([]*herald.Webhook, 0, len(hooks))
	for _, h := range hooks {
		if h.ID == "" {
			h.ID = herald.NewID(now)
		}
		if h.Headers == nil {
			h.Headers = map[string]string{}
		}
		w, err := herald.NewWebhook(project, h.ID, herald.WebhookInput{
			Name: herald.Some(h.Name), URL: herald.Some(h.URL), CustomPayload: herald.Some[*string](nil),
			Headers: herald.Some(h.Headers), Events: herald.Some(h.Events),
			HTTPBasicUser: herald.Some[*string](nil), HTTPBasicPassword: herald.Some[*string](nil),
		}, now)
		if err != nil {
			return nil, fmt.Errorf("seed webhook %s: %w", h.Name, err)
		}
		w.Secret.Current = signing.NewSecret()
		if err := s.CreateWebhook(ctx, w); err != nil {
			return nil, fmt.Errorf("seed webhook %s: %w", h.Name, err)
		}
		out = append(out, w)
	}
	return out, nil
}

// NameClaims counts a project's webhook name claims, strongly consistent:
// one per webhook, unless a write left one behind or lost one (make
// load-api checks that concurrent creates and deletes do neither).
func (s *Store) NameClaims(ctx context.Context, project string) (int, error) {
	if err := checkProject(project); err != nil {
		return 0, err
	}
	in := s.projectQuery(project, namePrefix)
	in.Select = types.SelectCount
	n := 0
	err := s.queryPages(ctx, in, func(page *dynamodb.QueryOutput) error {
		n += int(page.Count)
		return nil
	}, "count the name claims of project %s", project)
	return n, err
}
