package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/herald"
)

// Fuzz targets for what the API reads from a request: JSON:API documents and
// the call list's query string. Seeds live in testdata/fuzz/<name>/.

// FuzzWebhookDocument: a request body is refused with a client error the
// API maps to a 4xx, or read into a webhook that keeps its settings when the
// API's own encoding of it is written back (what the DatoCMS client does on
// update: read, change, write).
func FuzzWebhookDocument(f *testing.F) {
	f.Add([]byte(`{"data":{"type":"webhook","attributes":{"name":"n","url":"https://e.com/h","custom_payload":null,"headers":{},"http_basic_user":null,"http_basic_password":null,"events":[{"entity_type":"item","event_types":["update"],"filters":null}]}}}`), "application/json", "")
	f.Fuzz(func(t *testing.T, body []byte, contentType, id string) {
		hook, err := decodeWebhook(body, contentType, id)
		if err != nil {
			wantClientError(t, err)
			return
		}
		shown, err := json.Marshal(map[string]any{"data": webhookJSON(hook)})
		if err != nil {
			t.Fatalf("encode the webhook: %v", err)
		}
		again, err := decodeWebhook(shown, "application/vnd.api+json", hook.ID)
		if err != nil {
			t.Fatalf("the API's own encoding of a webhook it accepted is refused: %v\n%s", err, shown)
		}
		again.ID = hook.ID
		reshown, _ := json.Marshal(map[string]any{"data": webhookJSON(again)})
		if !bytes.Equal(shown, reshown) {
			t.Fatalf("writing a webhook back changed it:\n%s\n%s", shown, reshown)
		}
	})
}

// decodeWebhook reads a create request as createWebhook does.
func decodeWebhook(body []byte, contentType, id string) (*herald.Webhook, error) {
	r := httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	doc, err := readDocument(r, "webhook", id)
	if err != nil {
		return nil, err
	}
	if id != "" && doc.ID != nil && *doc.ID != id {
		return nil, herald.Errorf(herald.EINTERNAL, "readDocument accepted data.id %q for path id %q", *doc.ID, id)
	}
	in, err := webhookInput(doc.Attributes)
	if err != nil {
		return nil, err
	}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	return herald.NewWebhook("p1", "01KAZW0000000000000000000A", in, now)
}

// wantClientError fails unless err maps to a 4xx with a DatoCMS code, and
// every field problem names its field.
func wantClientError(t *testing.T, err error) {
	t.Helper()
	m, ok := errorStatus[herald.ErrorCode(err)]
	if !ok || m.status < 400 || m.status >= 500 {
		t.Fatalf("error %v maps to %d, want a 4xx", err, m.status)
	}
	for _, p := range herald.ErrorProblems(err) {
		if p.Field == "" || p.Code == "" {
			t.Fatalf("problem %+v: want a field and a code", p)
		}
	}
}

// FuzzCallQuery: any query string is refused naming the contract's
// parameters that are wrong (never another one: those are not Herald's to
// refuse), or read into a query within the contract's bounds.
func FuzzCallQuery(f *testing.F) {
	f.Add("page[offset]=0&page[limit]=30&order_by=created_at_desc&filter[fields][status][eq]=failed")
	f.Fuzz(func(t *testing.T, raw string) {
		values, _ := url.ParseQuery(raw) // as r.URL.Query() does, errors dropped
		q, err := parseCallQuery(values)
		if err != nil {
			wantClientError(t, err)
			if herald.ErrorCode(err) != herald.EINVALID {
				t.Fatalf("error %v, want EINVALID", err)
			}
			for _, p := range herald.ErrorProblems(err) {
				if _, given := values[p.Field]; !given || !isCallQueryParam(p.Field) {
					t.Fatalf("problem names %q, which the query does not have or the contract does not define", p.Field)
				}
			}
			return
		}
		if q.Limit < 1 || q.Limit > herald.MaxCallLimit || q.Offset < 0 {
			t.Fatalf("accepted limit %d offset %d", q.Limit, q.Offset)
		}
		if len(q.IDs) > herald.MaxCallIDsFilter || slices.Contains(q.IDs, "") {
			t.Fatalf("accepted ids %q", q.IDs)
		}
		for i, id := range q.IDs {
			if slices.Contains(q.IDs[i+1:], id) || strings.TrimSpace(id) != id {
				t.Fatalf("accepted ids %q: repeated or untrimmed", q.IDs)
			}
		}
		if q.OrderBy != "" && !slices.Contains(herald.CallOrderings, q.OrderBy) {
			t.Fatalf("accepted order %q", q.OrderBy)
		}
		if q.EntityType != "" && !herald.IsEntityType(q.EntityType) {
			t.Fatalf("accepted entity type %q", q.EntityType)
		}
		if q.EventType != "" && !slices.Contains(herald.AllEventTypes(), q.EventType) {
			t.Fatalf("accepted event type %q", q.EventType)
		}
		if q.Status != "" && !slices.Contains(herald.Statuses(), q.Status) {
			t.Fatalf("accepted status %q", q.Status)
		}
		if _, given := values["filter[fields][webhook_id][eq]"]; given != (q.WebhookID != "") {
			t.Fatalf("webhook filter %q from query %q", q.WebhookID, raw)
		}
	})
}
