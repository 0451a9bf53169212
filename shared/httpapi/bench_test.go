package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/herald"
)

// BenchmarkEncodeWebhook is GET /webhooks/:id's encoding: one webhook as a
// JSON:API document, written as the API writes every answer.
func BenchmarkEncodeWebhook(b *testing.B) {
	hook := benchWebhook()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		writeJSON(rec, http.StatusOK, map[string]any{"data": webhookJSON(hook)})
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkEncodeCallPage is GET /webhook_calls's encoding: a page of calls
// (30 is the default page, 500 the largest), each after one delivered
// attempt with a ~2.4 KB request body, and their webhook included.
func BenchmarkEncodeCallPage(b *testing.B) {
	hook := benchWebhook()
	for _, n := range []int{30, 500} {
		b.Run(fmt.Sprintf("calls=%d", n), func(b *testing.B) {
			calls := benchCalls(hook, n)
			b.ReportAllocs()
			var size int
			for b.Loop() {
				rec := httptest.NewRecorder()
				data := make([]callResource, len(calls))
				for i, c := range calls {
					data[i] = callJSON(c)
				}
				writeJSON(rec, http.StatusOK, map[string]any{
					"data": data, "meta": map[string]int{"total_count": 1_000_000}, "included": []webhookResource{webhookJSON(hook)},
				})
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "doc-bytes")
		})
	}
}

func benchWebhook() *herald.Webhook {
	at := time.Date(2026, 11, 26, 10, 54, 9, 616_000_000, time.UTC)
	payload, user, pw := `{"id":"{{entity.id}}","title":"{{entity.attributes.title}}"}`, "deploy", "pw"
	return &herald.Webhook{
		ID: "01JDX0000000000000000000W1", ProjectID: "205", Name: "Deploy", URL: "https://example.com/hooks/{{entity.id}}",
		CustomPayload: &payload, Headers: map[string]string{"X-Team": "web", "X-Env": "production"}, HTTPBasicUser: &user, HTTPBasicPassword: &pw,
		Events: []herald.Trigger{
			{EntityType: "item", EventTypes: []string{"create", "update", "publish"}, Filters: []herald.Filter{{EntityType: "item_type", EntityIDs: []string{"article", "1423"}}}},
			{EntityType: "upload", EventTypes: []string{"create"}},
		},
		Enabled: true, PayloadAPIVersion: "3", AutoRetry: true, CreatedAt: at, UpdatedAt: at,
		Secret: herald.Secret{Current: "whsec_never_shown"},
	}
}

func benchCalls(hook *herald.Webhook, n int) []*herald.Call {
	at := time.Date(2026, 11, 26, 10, 54, 9, 616_000_000, time.UTC)
	body := `{"site_id":"205","webhook_id":"` + hook.ID + `","entity":{"id":"293467","attributes":{"body":"` + strings.Repeat("lorem ipsum ", 190) + `"}}}`
	status, answer := 200, `{"ok":true}`
	calls := make([]*herald.Call, n)
	for i := range calls {
		sent := at.Add(time.Duration(i) * time.Second)
		calls[i] = &herald.Call{
			ID: fmt.Sprintf("01JDX00000000000000000%04d", i), ProjectID: "205", WebhookID: hook.ID, EntityType: "item", EventType: "update",
			CreatedAt: sent, Payload: herald.Payload{EventID: fmt.Sprintf("evt_%d", i)}, Status: herald.StatusSuccess, LastSentAt: &sent,
			RequestURL: "https://example.com/hooks/293467", RequestHeaders: map[string]string{"Content-Type": "application/json", "Authorization": "Basic [redacted]", "Webhook-Id": "01JDX"},
			RequestPayload: body, ResponseStatus: &status, ResponseHeaders: map[string]string{"Content-Type": "application/json"}, ResponsePayload: &answer,
			Attempts: []herald.Attempt{{Number: 1, Trigger: herald.TriggerFirst, StartedAt: sent, DurationMS: 84, Success: true, ResponseStatus: &status}},
		}
	}
	return calls
}
