package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/tools/localstack"
)

// autoDisableSeconds is the local stack's auto-disable window in this test,
// AUTO_DISABLE_AFTER_HOURS as the functions read it (a fraction of an hour,
// as docs/endpoint-health.md shows for make dev).
const autoDisableHours = "0.001" // 3.6 s

// opsEvents lists the operational events a receiver got, "<type> about
// <webhook id>", sorted.
func opsEvents(r *receiver) []string {
	var out []string
	for _, s := range r.got() {
		var body struct {
			EntityType string `json:"entity_type"`
			EventType  string `json:"event_type"`
			Entity     struct {
				ID string `json:"id"`
			} `json:"entity"`
		}
		if json.Unmarshal([]byte(s.body), &body) == nil && body.EntityType == "webhook" {
			out = append(out, body.EventType+" about "+body.Entity.ID)
		}
	}
	sort.Strings(out)
	return out
}

// TestDeadEndpointOnTheLocalStack runs the path of a dead endpoint through
// the real functions under the emulator, with a window of seconds: its
// failures raise failing and exhausted to a subscriber, it is disabled and
// disabled is raised, a test send reaches it while disabled, it is enabled
// again and what it missed is resent in bulk, which raises recovered; the
// subscriber gets each once, the endpoint none about itself.
func TestDeadEndpointOnTheLocalStack(t *testing.T) {
	e := startStack(t, localstack.Options{Overrides: map[string]map[string]string{"Parameters": {
		"ALLOW_PRIVATE_TARGETS": "true", "AUTO_DISABLE_AFTER_HOURS": autoDisableHours}}})
	var down atomic.Bool
	down.Store(true)
	site := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	alerts := newReceiver(t, nil)
	ops := map[string]any{"entity_type": "webhook", "event_types": []any{"failing", "exhausted", "disabled", "recovered"}}
	siteID := e.createWebhook(t, map[string]any{"name": "site", "url": site.URL + "/rebuild", "auto_retry": false,
		"events": []any{map[string]any{"entity_type": "item", "event_types": []any{"update"}}, ops}})
	alertsID := e.createWebhook(t, map[string]any{"name": "alerts", "url": alerts.URL + "/alerts", "events": []any{ops}})
	health := func() map[string]any {
		_, out := e.api(t, "GET", "/webhooks/"+siteID, nil)
		return out["data"].(map[string]any)["attributes"].(map[string]any)
	}

	var events []map[string]any
	for _, id := range []string{"evt-dead-1", "evt-dead-2", "evt-dead-3", "evt-dead-4"} {
		events = append(events, e.recordEvent(t, "update", id))
	}
	missed := callIDs(e.ingest(t, events...))
	waitFor(t, "failing and exhausted", 30*time.Second, func() bool {
		return slices.Equal(opsEvents(alerts), []string{"exhausted about " + siteID, "failing about " + siteID})
	})
	h := health()["health"].(map[string]any)
	if h["consecutive_failures"] != 4.0 || h["failing_since"] == nil || h["failures_24h"] != 4.0 {
		t.Errorf("after four failures: %v", h)
	}

	// Past the window, one more failure disables it.
	time.Sleep(4 * time.Second)
	missed = append(missed, callIDs(e.ingest(t, e.recordEvent(t, "update", "evt-dead-5")))...)
	waitFor(t, "the auto-disable", 30*time.Second, func() bool { return health()["disabled_reason"] == "auto_disabled" })
	waitFor(t, "disabled", 30*time.Second, func() bool { return slices.Contains(opsEvents(alerts), "disabled about "+siteID) })
	if w := health(); w["enabled"] != false || w["disabled_at"] == nil {
		t.Errorf("auto-disabled: %v", w)
	}

	// A test send while disabled, the endpoint fixed.
	down.Store(false)
	status, out := e.api(t, "POST", "/webhooks/"+siteID+"/ping", nil)
	if status != 201 {
		t.Fatalf("ping: %d %v", status, out)
	}
	pingID := out["data"].(map[string]any)["id"].(string)
	waitFor(t, "the ping's attempt", 30*time.Second, func() bool { return e.call(t, pingID)["status"] == "success" })
	if last := site.got()[len(site.got())-1]; last.header.Get("Webhook-Id") != pingID || !strings.Contains(last.body, `"event_type":"ping"`) {
		t.Errorf("the site's last request: %s %s", last.header.Get("Webhook-Id"), last.body)
	}

	// Enabled again, then what it missed resent.
	if status, out := e.api(t, "PUT", "/webhooks/"+siteID, map[string]any{"data": map[string]any{"type": "webhook",
		"attributes": map[string]any{"enabled": true}}}); status != 200 || out["data"].(map[string]any)["attributes"].(map[string]any)["disabled_reason"] != nil {
		t.Fatalf("re-enable: %d %v", status, out)
	}
	time.Sleep(6 * time.Second) // delivery and ingest read the webhook at most 5 s old
	filter := "?filter[fields][webhook_id][eq]=" + siteID + "&filter[fields][status][eq]=failed"
	_, out = e.api(t, "POST", "/webhook_calls/bulk_resend"+filter+"&dry_run=true", nil)
	if a := out["data"].(map[string]any)["attributes"].(map[string]any); a["matched"] != float64(len(missed)) {
		t.Fatalf("dry run: %v; want the %d missed calls", a, len(missed))
	}
	_, out = e.api(t, "POST", "/webhook_calls/bulk_resend"+filter, nil)
	if a := out["data"].(map[string]any)["attributes"].(map[string]any); a["queued"] != float64(len(missed)) {
		t.Fatalf("bulk resend: %v", a)
	}
	waitFor(t, "the resends and recovered", 30*time.Second, func() bool {
		for _, id := range missed {
			if e.call(t, id)["status"] != "success" {
				return false
			}
		}
		return slices.Contains(opsEvents(alerts), "recovered about "+siteID)
	})
	want := []string{"disabled about " + siteID, "exhausted about " + siteID, "failing about " + siteID, "recovered about " + siteID}
	if got := opsEvents(alerts); !slices.Equal(got, want) {
		t.Errorf("alerts got %v; want each once: %v", got, want)
	}
	if got := opsEvents(site); !slices.Equal(got, []string{"ping about " + siteID}) {
		t.Errorf("the site got %v about itself; want only its test send", got)
	}
	if h := health()["health"].(map[string]any); h["failing_since"] != nil || h["consecutive_failures"] != 0.0 || h["last_success_at"] == nil {
		t.Errorf("recovered: %v", h)
	}
	_, out = e.api(t, "GET", "/webhooks/"+alertsID, nil)
	if h := out["data"].(map[string]any)["attributes"].(map[string]any)["health"].(map[string]any); h["failures_24h"] != 0.0 {
		t.Errorf("alerts' health: %v", h)
	}
}
