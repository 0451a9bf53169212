package herald_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/test/benchkit"
)

// BenchmarkRenderRequest renders an attempt's request from a ~2.4 KB record
// update: the default payload, and a custom Mustache payload that picks a
// few fields, as a build hook's might. The URL has no tags in either.
func BenchmarkRenderRequest(b *testing.B) {
	custom := `{"type":"{{event_type}}","id":"{{entity.id}}","model":"{{entity.relationships.item_type.data.id}}",` +
		`"title":"{{entity.attributes.title}}","tags":{{{entity.attributes.tags}}},"env":"{{environment}}"}`
	for _, tc := range []struct {
		name    string
		payload *string
	}{{"payload=default", nil}, {"payload=mustache", &custom}} {
		payload := tc.payload
		b.Run(tc.name, func(b *testing.B) {
			now := time.Date(2026, 11, 26, 10, 54, 9, 0, time.UTC)
			hook := &herald.Webhook{ID: "01JDX0000000000000000000W1", ProjectID: "205", URL: "https://example.com/hooks/build",
				CustomPayload: payload, Headers: map[string]string{"X-Team": "web"}, Enabled: true, AutoRetry: true}
			ev, _, err := herald.ParseEvent(benchkit.RecordUpdate("205", "evt_1", "1423"))
			if err != nil {
				b.Fatal(err)
			}
			call := herald.NewCall(herald.NewID(now), hook, ev, now, 24*time.Hour)
			b.ReportAllocs()
			var size int
			for b.Loop() {
				req, err := herald.RenderRequest(hook, call, 0)
				if err != nil {
					b.Fatal(err)
				}
				size = len(req.Body)
			}
			b.ReportMetric(float64(size), "body-bytes")
		})
	}
}
