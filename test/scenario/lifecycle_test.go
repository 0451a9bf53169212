package scenario

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/herald"
)

// TestDeadEndpointLifecycle drives a webhook from healthy to failing to
// exhausted to disabled, tests it while disabled, re-enables it and
// recovers it by resending what it missed, over nine days of an injected
// clock. At each step it checks the webhook's health through the API, and
// at the end that every operational event was sent exactly once to the
// subscriber, none to the failing webhook (which subscribes too) but its
// own test send, and that a second subscriber whose every operational call
// fails raised nothing and was never disabled: no loops, no storms.
func TestDeadEndpointLifecycle(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	r := newRig(t, start, herald.DefaultAutoDisableAfter)
	site, alerts, pager := newReceiver(t), newReceiver(t), newReceiver(t)
	pager.answer(http.StatusServiceUnavailable)
	allOps := map[string]any{"entity_type": "webhook", "event_types": []string{"failing", "exhausted", "disabled", "recovered", "ping"}}
	records := map[string]any{"entity_type": "item", "event_types": []string{"update"}}
	siteID := r.createWebhook("site", site.URL+"/rebuild", records, allOps)
	alertsID := r.createWebhook("alerts", alerts.URL+"/alerts", allOps)
	pagerID := r.createWebhook("pager", pager.URL+"/pager", allOps)
	names := map[string]string{siteID: "site", alertsID: "alerts", pagerID: "pager"}
	about := func(rc *receiver) []string {
		var out []string
		for _, s := range rc.operational() {
			kind, id, _ := strings.Cut(s, " about ")
			out = append(out, kind+" about "+names[id])
		}
		return out
	}

	// Healthy.
	r.event("evt-1")
	r.pump()
	if h := r.health(siteID); h["successes_24h"] != 1.0 || h["failing_since"] != nil || h["last_success_at"] == nil || h["consecutive_failures"] != 0.0 {
		t.Fatalf("healthy: %v", h)
	}

	// Failing: four events, a minute apart, all fail; the fourth failure
	// in a row raises `failing`.
	site.answer(http.StatusInternalServerError)
	var missed []string
	for i := 2; i <= 5; i++ {
		r.advance(start.Add(time.Duration(i-1) * time.Minute))
		res := r.event(fmt.Sprintf("evt-%d", i))
		missed = append(missed, res.Calls[0].CallID)
		r.pump()
	}
	firstFailure := start.Add(time.Minute)
	h := r.health(siteID)
	if h["failing_since"] != firstFailure.Format(herald.TimeFormat) || h["consecutive_failures"].(float64) < herald.FailingAfter || h["failures_24h"].(float64) < 4 {
		t.Fatalf("failing: %v", h)
	}
	if got, want := about(alerts), []string{"failing about site"}; !slices.Equal(got, want) {
		t.Fatalf("after four failures, alerts got %v; want %v", got, want)
	}

	// Exhausted: the calls' seven retries fail, over 3.3 days.
	r.advance(start.Add(4 * 24 * time.Hour))
	for _, id := range missed {
		c, err := r.store.GetCall(t.Context(), project, id)
		if err != nil || c.Status != herald.StatusFailed || c.AttemptedAutoRetries != 7 {
			t.Fatalf("call %s after its retries: %+v, %v", id, c, err)
		}
	}
	if got, want := about(alerts), []string{"exhausted about site", "failing about site"}; !slices.Equal(got, want) {
		t.Fatalf("after the retries, alerts got %v; want %v (once, for four calls exhausted within the hour)", got, want)
	}
	if h := r.health(siteID); h["consecutive_failures"].(float64) != 4*8 {
		t.Errorf("after every attempt of four calls failed: %v in a row; want 32", h["consecutive_failures"])
	}

	// Disabled: an attempt that fails AutoDisableAfterHours after the
	// first failure of the streak disables the webhook; the retry its call
	// had scheduled is stopped, recorded as such.
	r.advance(firstFailure.Add(herald.DefaultAutoDisableAfter))
	sixth := r.event("evt-6").Calls[0].CallID
	missed = append(missed, sixth)
	r.pump()
	w := r.webhook(siteID)
	if w["enabled"] != false || w["disabled_reason"] != herald.DisabledAuto || w["disabled_at"] == nil {
		t.Fatalf("after %v of failures: enabled %v, reason %v, at %v", herald.DefaultAutoDisableAfter, w["enabled"], w["disabled_reason"], w["disabled_at"])
	}
	if got := about(alerts); !slices.Contains(got, "disabled about site") {
		t.Fatalf("alerts got %v; want disabled among them", got)
	}
	r.advance(r.clock.Now().Add(3 * time.Minute))
	c, _ := r.store.GetCall(t.Context(), project, sixth)
	last := c.Attempts[len(c.Attempts)-1]
	if c.Status != herald.StatusFailed || c.NextRetryAt != nil || last.ErrorKind != herald.ErrKindDisabled || last.Trigger != herald.TriggerAuto {
		t.Errorf("the disabled webhook's pending retry: status %s, next %v, last attempt %+v; want stopped, recorded", c.Status, c.NextRetryAt, last)
	}
	sentBefore := len(site.requests())
	if res := r.event("evt-7"); len(res.Calls) != 0 {
		t.Errorf("an event while disabled made calls: %v", res.Calls)
	}

	// A test send reaches the disabled webhook, once fixed; it changes
	// nothing about its health and goes nowhere else.
	site.answer(http.StatusOK)
	status, out := r.call("POST", "/webhooks/"+siteID+"/ping", nil)
	if status != 201 {
		t.Fatalf("ping: %d %v", status, out)
	}
	pingID := out["data"].(map[string]any)["id"].(string)
	r.pump()
	reqs := site.requests()
	if len(reqs) != sentBefore+1 || reqs[len(reqs)-1].webhookID != pingID || reqs[len(reqs)-1].body["event_type"] != herald.OpPing {
		t.Fatalf("the ping: the site got %d requests, the last %+v", len(reqs)-sentBefore, reqs[len(reqs)-1])
	}
	if c, _ := r.store.GetCall(t.Context(), project, pingID); c.Status != herald.StatusSuccess {
		t.Errorf("the ping's call: %s", c.Status)
	}
	if w := r.webhook(siteID); w["enabled"] != false || w["health"].(map[string]any)["failing_since"] == nil {
		t.Errorf("after the ping: enabled %v, health %v; want still disabled and failing", w["enabled"], w["health"])
	}

	// Re-enabled: the reason is cleared, the streak ends.
	status, out = r.call("PUT", "/webhooks/"+siteID, map[string]any{"data": map[string]any{"type": "webhook", "attributes": map[string]any{"enabled": true}}})
	if status != 200 {
		t.Fatalf("re-enable: %d %v", status, out)
	}
	w = out["data"].(map[string]any)["attributes"].(map[string]any)
	if w["enabled"] != true || w["disabled_reason"] != nil || w["disabled_at"] != nil {
		t.Errorf("re-enabled: %v", w)
	}
	if h := w["health"].(map[string]any); h["failing_since"] != nil || h["consecutive_failures"] != 0.0 {
		t.Errorf("re-enabled: health %v; want the streak over", h)
	}
	r.advance(r.clock.Now().Add(10 * time.Second)) // delivery's cached webhook expires

	// Recovered, by resending what it missed.
	filter := "?filter[fields][webhook_id][eq]=" + siteID + "&filter[fields][status][eq]=failed"
	_, out = r.call("POST", "/webhook_calls/bulk_resend"+filter+"&dry_run=true", nil)
	dry := out["data"].(map[string]any)["attributes"].(map[string]any)
	if dry["matched"] != float64(len(missed)) || dry["resendable"] != float64(len(missed)) || dry["queued"] != 0.0 {
		t.Fatalf("dry run: %v; want %d", dry, len(missed))
	}
	_, out = r.call("POST", "/webhook_calls/bulk_resend"+filter, nil)
	if res := out["data"].(map[string]any)["attributes"].(map[string]any); res["queued"] != float64(len(missed)) {
		t.Fatalf("bulk resend: %v", res)
	}
	r.pump()
	resent := map[string]int{}
	for _, req := range site.requests()[sentBefore+1:] {
		resent[req.webhookID]++
	}
	for _, id := range missed {
		if resent[id] != 1 {
			t.Errorf("missed call %s was resent %d times, with its own webhook-id; want once", id, resent[id])
		}
		if c, _ := r.store.GetCall(t.Context(), project, id); c.Status != herald.StatusSuccess || c.Attempts[len(c.Attempts)-1].Trigger != herald.TriggerManual {
			t.Errorf("call %s after the bulk resend: %s", id, c.Status)
		}
	}
	_, out = r.call("POST", "/webhook_calls/bulk_resend"+filter, nil)
	if res := out["data"].(map[string]any)["attributes"].(map[string]any); res["matched"] != 0.0 || res["queued"] != 0.0 {
		t.Errorf("the same bulk resend again: %v; want nothing (they succeeded)", res)
	}
	h = r.health(siteID)
	if h["failing_since"] != nil || h["consecutive_failures"] != 0.0 || h["successes_24h"] != float64(len(missed)) || h["last_success_at"] == nil {
		t.Errorf("recovered: %v", h)
	}

	// Let the pager's failing operational calls run out their retries, and
	// past its own auto-disable window.
	r.advance(r.clock.Now().Add(4 * 24 * time.Hour))

	want := []string{"disabled about site", "exhausted about site", "failing about site", "recovered about site"}
	if got := about(alerts); !slices.Equal(got, want) {
		t.Errorf("alerts got %v; want each once: %v", got, want)
	}
	if got := about(site); !slices.Equal(got, []string{"ping about site"}) {
		t.Errorf("the failing webhook got %v; want nothing about itself but its test send", got)
	}
	seen := map[string]bool{}
	for _, s := range about(pager) {
		seen[s] = true
	}
	for s := range seen {
		if !strings.HasSuffix(s, "about site") {
			t.Errorf("the pager got %s", s)
		}
	}
	if len(pager.requests()) <= len(want) {
		t.Errorf("the pager got %d requests; want its operational calls retried", len(pager.requests()))
	}
	if pw := r.webhook(pagerID); pw["enabled"] != true || pw["health"].(map[string]any)["consecutive_failures"] != 0.0 || pw["health"].(map[string]any)["failing_since"] != nil {
		t.Errorf("the pager, whose every operational call failed for days: %v", pw)
	}
	for _, req := range alerts.requests() {
		raw, _ := json.Marshal(req.body)
		if strings.Contains(string(raw), "whsec_") || strings.Contains(string(raw), "/rebuild") {
			t.Errorf("an operational event carries the webhook's secret or URL path: %s", raw)
		}
	}
}
