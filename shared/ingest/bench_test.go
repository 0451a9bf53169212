package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/ingest"
	"github.com/heraldhq/herald/shared/sqs"
	"github.com/heraldhq/herald/test/benchkit"
)

// BenchmarkIngest is the ingest handler's own CPU for one invocation: a
// batch of 1 or 100 record updates (~2.4 KB each) in a project of 1, 100 or
// 10,000 webhooks, of which one matches each event. The handler runs the real
// dynamo and sqs adapters over benchkit's in-memory clients, so the figure
// covers parsing, matching, item marshalling, job encoding and logging, not
// the AWS SDK's transport nor DynamoDB's latency. The project's webhooks are
// cached (the clock stands still), as in a warm function between its
// reads of the webhook list.
func BenchmarkIngest(b *testing.B) {
	for _, webhooks := range []int{1, 100, 10000} {
		for _, batch := range []int{1, 100} {
			b.Run(fmt.Sprintf("webhooks=%d/batch=%d", webhooks, batch), func(b *testing.B) {
				benchIngest(b, webhooks, batch)
			})
		}
	}
}

func benchIngest(b *testing.B, webhooks, batch int) {
	now := time.Date(2026, 11, 26, 10, 54, 9, 0, time.UTC)
	db := benchkit.NewDynamo()
	queue := &benchkit.SQS{}
	store := &cachedWebhooks{Store: dynamo.New(dynamo.Deps{DB: db, Table: "bench", Clock: herald.ClockFunc(func() time.Time { return now })}), hooks: benchProject(b, webhooks, now)}
	h := ingest.New(ingest.Deps{Store: store, Queue: sqs.New(queue, "bench-queue"),
		Clock: herald.ClockFunc(func() time.Time { return now }), Log: config.Logger(io.Discard, slog.LevelInfo),
		Retention: 30 * 24 * time.Hour, WebhookTTL: time.Hour})

	events := make([]json.RawMessage, batch)
	for i := range events {
		events[i] = benchkit.RecordUpdate("205", fmt.Sprintf("evt_%06d", i), "1423")
	}
	payload := json.RawMessage(events[0])
	if batch > 1 {
		var err error
		if payload, err = json.Marshal(map[string]any{"events": events}); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	cpu := benchkit.StartCPU()
	for b.Loop() {
		reply, err := h.Handle(ctx, payload)
		if err != nil || reply.Accepted != batch || len(reply.Results[0].Calls) != 1 {
			b.Fatalf("Handle: %v, %+v", err, reply)
		}
	}
	cpu.Report(b)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
	b.ReportMetric(float64(len(payload)), "payload-bytes")
	if got := queue.Sent(); got != b.N*batch {
		b.Fatalf("%d jobs queued; want %d", got, b.N*batch)
	}
}

// cachedWebhooks serves a project's webhooks from memory and everything else
// from the store: benchkit.Dynamo does not answer queries, and ingest reads
// the list only once per WebhookTTL.
type cachedWebhooks struct {
	*dynamo.Store
	hooks []*herald.Webhook
}

func (s *cachedWebhooks) ListWebhooks(context.Context, string) ([]*herald.Webhook, error) {
	return s.hooks, nil
}

// benchProject is a project of n webhooks on record updates, each filtered
// to its own model, so that exactly one (on model 1423) matches the
// benchmark's events.
func benchProject(b *testing.B, n int, now time.Time) []*herald.Webhook {
	b.Helper()
	hooks := make([]*herald.Webhook, n)
	for i := range hooks {
		model := fmt.Sprintf("m%d", i)
		if i == n/2 {
			model = "1423"
		}
		w, err := herald.NewWebhook("205", herald.NewID(now), herald.WebhookInput{
			Name: herald.Some(fmt.Sprintf("hook %d", i)), URL: herald.Some(fmt.Sprintf("https://example.com/hooks/%d", i)),
			CustomPayload: herald.Some[*string](nil), Headers: herald.Some(map[string]string{}),
			Events: herald.Some([]herald.Trigger{{EntityType: "item", EventTypes: []string{"create", "update", "publish"},
				Filters: []herald.Filter{{EntityType: "item_type", EntityIDs: []string{model}}}}}),
			HTTPBasicUser: herald.Some[*string](nil), HTTPBasicPassword: herald.Some[*string](nil),
		}, now)
		if err != nil {
			b.Fatal(err)
		}
		hooks[i] = w
	}
	return hooks
}
