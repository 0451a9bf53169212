package httpapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/herald"
)

var updateEncoding = flag.Bool("update-encoding", false, "rewrite testdata/encoding-*.json")

// TestEncodingGolden pins the JSON:API documents a webhook and a call encode
// to, byte for byte: the shapes the DatoCMS client and the admin page read.
func TestEncodingGolden(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 54, 9, 616_000_000, time.UTC)
	later := at.Add(2 * time.Minute)
	payload, user, pw := `{"id":"{{entity.id}}"}`, "deploy", "pw"
	status, body := 500, "boom"
	next := 1
	hook := &herald.Webhook{
		ID: "01JDX0000000000000000000W1", ProjectID: "205", Name: "Deploy", URL: "https://example.com/{{entity.id}}",
		CustomPayload: &payload, Headers: map[string]string{"X-Team": "web"}, HTTPBasicUser: &user, HTTPBasicPassword: &pw,
		Events: []herald.Trigger{
			{EntityType: "item", EventTypes: []string{"publish"}, Filters: []herald.Filter{{EntityType: "item_type", EntityIDs: []string{"article"}}}},
			{EntityType: "upload", EventTypes: []string{"create"}},
		},
		Enabled: true, PayloadAPIVersion: "3", AutoRetry: true, CreatedAt: at, UpdatedAt: at,
		Secret: herald.Secret{Current: "whsec_never_shown"},
	}
	call := &herald.Call{
		ID: "01JDX0000000000000000000C1", ProjectID: "205", WebhookID: hook.ID, EntityType: "item", EventType: "publish",
		EventID: "evt_1", CreatedAt: at, Payload: herald.Payload{EventID: "evt_1"}, Status: herald.StatusRescheduled,
		LastSentAt: &at, NextRetryAt: &later, NextAuto: &next,
		RequestURL: "https://example.com/1", RequestHeaders: map[string]string{"Authorization": "Basic [redacted]"},
		RequestPayload: `{"id":"1"}`, ResponseStatus: &status, ResponseHeaders: map[string]string{"Content-Type": "text/plain"},
		ResponsePayload: &body,
		Attempts: []herald.Attempt{{Number: 1, Trigger: herald.TriggerFirst, StartedAt: at, DurationMS: 12,
			ResponseStatus: &status, ErrorKind: herald.ErrKindHTTPStatus, Error: "HTTP 500"}},
	}
	// Read alone, a webhook carries its health with the chart's hours.
	read := webhookJSON(hook)
	failing := herald.HealthState{ConsecutiveFailures: 4, StreakStart: at.Add(-30 * time.Minute), LastSuccess: at.Add(-2 * time.Hour),
		Hours: map[time.Time]herald.HourCounts{herald.Hour(at): {Failures: 4}}}
	read.Attributes.Health = newHealthJSON(herald.BuildHealth(failing,
		herald.FirstSuccesses{Hours: map[time.Time]int{herald.Hour(at).Add(-2 * time.Hour): 7}}, at), true)
	for name, doc := range map[string]any{
		"webhook": map[string]any{"data": read},
		"call":    map[string]any{"data": callJSON(call), "included": []webhookResource{webhookJSON(hook)}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "encoding-"+name+".json")
			if *updateEncoding {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update-encoding to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s encodes as\n%s\nwant\n%s", name, got, want)
			}
			if bytes.Contains(got, []byte("whsec_")) {
				t.Errorf("the signing secret is in the %s document", name)
			}
		})
	}
}
