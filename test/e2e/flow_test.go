package e2e

import (
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/shared/metrics"
	"github.com/heraldhq/herald/test/testenv"
	"github.com/heraldhq/herald/tools/localstack"
)

// receiver is a real HTTP server on 127.0.0.1 that records every request.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

type seen struct {
	path   string
	header http.Header
	body   string
}

func newReceiver(t *testing.T, respond http.HandlerFunc) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, seen{path: req.URL.Path, header: req.Header.Clone(), body: string(body)})
		r.mu.Unlock()
		if respond != nil {
			respond(w, req)
			return
		}
		w.Header().Set("X-Receiver", "e2e")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) got() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.reqs...)
}

// TestEventReachesReceiverSignedAndLogged: an event ingested through the
// emulated ingest function reaches a real receiver through the queue and the
// emulated delivery function, signed so that the official Standard Webhooks
// and Svix libraries accept it (also across a secret rotation), and shows in
// the activity log with the receiver's answer.
func TestEventReachesReceiverSignedAndLogged(t *testing.T) {
	e := startStack(t, localstack.Options{})
	rcv := newReceiver(t, nil)
	hook := e.createWebhook(t, map[string]any{"name": "signed", "url": rcv.URL + "/hooks/{{entity.id}}",
		"http_basic_user": "deploy", "http_basic_password": testenv.Secret(t, "e2e-basic-password"), "headers": map[string]any{"X-Team": "web"}})
	_, sec := e.api(t, "GET", "/webhooks/"+hook+"/secret", nil)
	secret := sec["data"].(map[string]any)["attributes"].(map[string]any)["secret"].(string)

	reply := e.ingest(t, e.recordEvent(t, "update", "evt-signed-1"))
	ids := callIDs(reply)
	if len(ids) != 1 {
		t.Fatalf("ingest reply %v; want one call", reply)
	}
	waitFor(t, "the receiver to get the call", 30*time.Second, func() bool { return len(rcv.got()) == 1 })
	req := rcv.got()[0]
	if req.path != "/hooks/293467" || req.header.Get("Webhook-Id") != ids[0] || req.header.Get("X-Team") != "web" ||
		!strings.HasPrefix(req.header.Get("Authorization"), "Basic ") || req.header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %v", req.path, req.header)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(req.body), &body); err != nil || body["webhook_call_id"] != ids[0] || body["site_id"] != e.project || body["event_type"] != "update" {
		t.Errorf("body %s", req.body)
	}
	verifyWithClients(t, []verification{
		{secret, req, true},
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", req, false},
		{secret, seen{header: req.header, body: req.body + " "}, false},
	})

	waitFor(t, "the call to be recorded", 10*time.Second, func() bool { return e.call(t, ids[0])["status"] == "success" })
	call := e.call(t, ids[0])
	if call["response_status"] != 200.0 || call["response_payload"] != `{"ok":true}` ||
		call["response_headers"].(map[string]any)["X-Receiver"] != "e2e" || call["request_url"] != rcv.URL+"/hooks/293467" {
		t.Errorf("recorded call %v", call)
	}
	if h := call["request_headers"].(map[string]any); h["Authorization"] != "Basic [redacted]" {
		t.Errorf("recorded Authorization %v", h["Authorization"])
	}
	if strings.Contains(e.logs.String(), "e2e-basic-password") || strings.Contains(e.logs.String(), secret) || strings.Contains(e.logs.String(), e.token) {
		t.Errorf("a password, secret or token is in the functions' logs")
	}

	// Rotate: the next call carries two signatures, and receivers holding
	// either secret accept it.
	_, rot := e.api(t, "POST", "/webhooks/"+hook+"/secret/rotate", nil)
	newSecret := rot["data"].(map[string]any)["attributes"].(map[string]any)["secret"].(string)
	e.ingest(t, e.recordEvent(t, "update", "evt-signed-2"))
	waitFor(t, "the second call", 30*time.Second, func() bool { return len(rcv.got()) == 2 })
	second := rcv.got()[1]
	if n := len(strings.Fields(second.header.Get("Webhook-Signature"))); n != 2 {
		t.Errorf("after a rotation: %d signatures; want 2", n)
	}
	verifyWithClients(t, []verification{{secret, second, true}, {newSecret, second, true}})
}

type verification struct {
	secret string
	req    seen
	want   bool
}

// verifyWithClients checks signatures with the npm standardwebhooks and svix
// libraries.
func verifyWithClients(t *testing.T, vs []verification) {
	t.Helper()
	var input []map[string]any
	for _, v := range vs {
		input = append(input, map[string]any{"secret": v.secret, "body": v.req.body, "headers": map[string]string{
			"webhook-id": v.req.header.Get("Webhook-Id"), "webhook-timestamp": v.req.header.Get("Webhook-Timestamp"),
			"webhook-signature": v.req.header.Get("Webhook-Signature")}})
	}
	raw, _ := json.Marshal(input)
	lines := strings.Split(strings.TrimSpace(node(t, "verify.mjs", nil, raw)), "\n")
	if len(lines) != len(vs) {
		t.Fatalf("verify.mjs printed %d lines for %d entries", len(lines), len(vs))
	}
	for i, line := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatal(err)
		}
		for _, lib := range []string{"standardwebhooks", "svix"} {
			if ok := got[lib] == true; ok != vs[i].want {
				t.Errorf("entry %d: %s says %v; want accepted=%v", i, lib, got[lib], vs[i].want)
			}
		}
	}
}

// TestDatoCMSClient drives the API with the official DatoCMS client: webhook
// CRUD with a 422 naming its field, then the activity log's list, paged
// iterator and find, and a resend.
func TestDatoCMSClient(t *testing.T) {
	e := startStack(t, localstack.Options{})
	env := map[string]string{"HERALD_API_URL": e.stack.APIURL, "HERALD_TOKEN": e.token}
	t.Logf("webhooks: %s", node(t, "datocms.mjs", env, nil, "webhooks"))

	rcv := newReceiver(t, nil)
	hook := e.createWebhook(t, map[string]any{"name": "log", "url": rcv.URL + "/log"})
	e.createWebhook(t, map[string]any{"name": "other", "url": rcv.URL + "/other"})
	var events []map[string]any
	for i := 0; i < 7; i++ {
		events = append(events, e.recordEvent(t, "publish", "evt-log-"+string(rune('a'+i))))
	}
	e.ingest(t, events...)
	waitFor(t, "14 deliveries", 30*time.Second, func() bool { return len(rcv.got()) == 14 })
	env["HERALD_WEBHOOK_ID"], env["HERALD_CALLS"], env["HERALD_RESEND"] = hook, "7", "1"
	out := node(t, "datocms.mjs", env, nil, "calls")
	var summary struct{ First string }
	if err := json.Unmarshal([]byte(out), &summary); err != nil {
		t.Fatalf("calls scenario printed %q", out)
	}
	waitFor(t, "the resend", 30*time.Second, func() bool { return len(rcv.got()) == 15 })
	if last := rcv.got()[14]; last.header.Get("Webhook-Id") != summary.First {
		t.Errorf("resent %s; want %s", last.header.Get("Webhook-Id"), summary.First)
	}
	waitFor(t, "the resend to be recorded", 10*time.Second, func() bool {
		atts := e.call(t, summary.First)["attempts"].([]any)
		return len(atts) == 2 && atts[1].(map[string]any)["trigger"] == "manual"
	})
}

// TestReceiverFaults sends one event to webhooks whose receivers misbehave
// in every way CONTRACT §3 names, and checks what each call records.
func TestReceiverFaults(t *testing.T) {
	e := startStack(t, localstack.Options{SweepInterval: time.Second})
	faults := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/500":
			http.Error(w, "boom", 500)
		case "/429":
			w.Header().Set("Retry-After", "7200")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case "/slow":
			time.Sleep(10 * time.Second)
		case "/silent":
			conn, _, _ := w.(http.Hijacker).Hijack()
			time.Sleep(10 * time.Second)
			conn.Close()
		case "/reset":
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		case "/redirect":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/huge":
			chunk := strings.Repeat("x", 1<<20)
			for i := 0; i < 10; i++ {
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
		}
	})
	badTLS := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(badTLS.Close)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	refusedURL := "http://" + closed.Addr().String() + "/"
	closed.Close()

	want := map[string]struct {
		url    string
		kind   string
		status float64
	}{
		"500": {faults.URL + "/500", "http_status", 500}, "429": {faults.URL + "/429", "http_status", 429},
		"slow": {faults.URL + "/slow", "timeout", 0}, "silent": {faults.URL + "/silent", "timeout", 0},
		"reset": {faults.URL + "/reset", "reset", 0}, "redirect": {faults.URL + "/redirect", "redirect", 302},
		"huge": {faults.URL + "/huge", "", 200}, "tls": {badTLS.URL + "/", "tls", 0}, "refused": {refusedURL, "refused", 0},
	}
	hooks := map[string]string{}
	for name, w := range want {
		hooks[e.createWebhook(t, map[string]any{"name": name, "url": w.url})] = name
	}
	reply := e.ingest(t, e.recordEvent(t, "update", "evt-faults"))
	ids := callIDs(reply)
	if len(ids) != len(want) {
		t.Fatalf("%d calls; want %d", len(ids), len(want))
	}
	started := time.Now()
	waitFor(t, "every fault to be recorded", 60*time.Second, func() bool {
		for _, id := range ids {
			if len(e.call(t, id)["attempts"].([]any)) == 0 {
				return false
			}
		}
		return true
	})
	t.Logf("all %d calls recorded %v after ingest", len(ids), time.Since(started).Round(time.Second))
	_, list := e.api(t, "GET", "/webhook_calls?page[limit]=50", nil)
	for _, item := range list["data"].([]any) {
		c := item.(map[string]any)
		attrs := c["attributes"].(map[string]any)
		name := hooks[c["relationships"].(map[string]any)["webhook"].(map[string]any)["data"].(map[string]any)["id"].(string)]
		w := want[name]
		att := attrs["attempts"].([]any)[0].(map[string]any)
		gotKind, _ := att["error_kind"].(string)
		gotStatus, _ := att["response_status"].(float64)
		if gotKind != w.kind || gotStatus != w.status {
			t.Errorf("%s: error kind %q status %v (%v); want %q %v", name, gotKind, gotStatus, att["error"], w.kind, w.status)
		}
		switch name {
		case "huge":
			if attrs["status"] != "success" || attrs["response_payload_truncated"] != true || len(attrs["response_payload"].(string)) != 16<<10 {
				t.Errorf("huge: status %v truncated %v", attrs["status"], attrs["response_payload_truncated"])
			}
		case "429":
			last, _ := time.Parse(time.RFC3339Nano, attrs["last_sent_at"].(string))
			next, _ := time.Parse(time.RFC3339Nano, attrs["next_retry_at"].(string))
			if attrs["status"] != "rescheduled" || next.Sub(last) < 2*time.Hour {
				t.Errorf("429 with Retry-After 7200: next retry %v after the attempt", next.Sub(last))
			}
		default:
			if attrs["status"] != "rescheduled" {
				t.Errorf("%s: status %v; want rescheduled", name, attrs["status"])
			}
		}
	}
	if n := len(faults.got()); n != 7 {
		t.Errorf("the fault receiver got %d requests; want one from each of the seven plain-HTTP webhooks (the redirect not followed)", n)
	}

	// The functions' metrics, read from their logs as CloudWatch would, say
	// the same: one event, nine calls, one success and eight rescheduled
	// (the first retry is two minutes away).
	want9 := map[string]float64{
		"IngestFunction IngestEvents": 1, "IngestFunction IngestMatches": 9,
		"DeliveryFunction Deliveries success": 1, "DeliveryFunction Deliveries rescheduled": 8,
		"DeliveryFunction AttemptDuration": 9, "DeliveryFunction EndToEndDelay": 9,
	}
	var got, worst map[string]float64
	waitFor(t, "the delivery metrics and a sweep's", 10*time.Second, func() bool {
		got, worst = emfMetrics(e.logs.String())
		return got["DeliveryFunction Deliveries success"]+got["DeliveryFunction Deliveries rescheduled"] >= 9 &&
			got["DeliveryFunction SweepLag"] > 0
	})
	for k, v := range want9 {
		if got[k] != v {
			t.Errorf("metric %s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	for _, k := range []string{"DeliveryFunction Deliveries failed", "DeliveryFunction Deliveries not_sent"} {
		if got[k] != 0 {
			t.Errorf("metric %s = %v, want none", k, got[k])
		}
	}
	// Every sweep writes its lag and backlog, 0 with nothing parked.
	if got["DeliveryFunction SweepBacklog"] != 0 || worst["DeliveryFunction SweepLag"] != 0 {
		t.Errorf("sweep metrics: backlog %v, worst lag %v; want 0 and 0 (nothing parked)",
			got["DeliveryFunction SweepBacklog"], worst["DeliveryFunction SweepLag"])
	}
}

// emfMetrics reads the embedded-metric-format lines of the functions' logs
// (metrics.Parse) and sums them by "Function Metric[ Outcome]": counts add
// up, lists of values count their values; max keeps each list's largest.
func emfMetrics(logs string) (sums, max map[string]float64) {
	sums, max = map[string]float64{}, map[string]float64{}
	for _, line := range strings.Split(logs, "\n") {
		l, ok := metrics.Parse(line)
		if !ok {
			continue
		}
		for name, vs := range l.Values {
			key := l.Function + " " + name
			if l.Outcome != "" {
				key += " " + l.Outcome
			}
			if metrics.Catalog[name].Unit == "Count" {
				for _, v := range vs {
					sums[key] += v
				}
			} else {
				sums[key] += float64(len(vs))
			}
			for _, v := range vs {
				max[key] = math.Max(max[key], v)
			}
		}
	}
	return sums, max
}

// TestPoisonMessageEndsInDLQ: a message the delivery function can never
// process is received maxReceiveCount times, then moved to the DLQ by the
// redrive policy; nothing loops.
func TestPoisonMessageEndsInDLQ(t *testing.T) {
	e := startStack(t, localstack.Options{
		Functions:       []string{localstack.DeliveryFunction},
		QueueAttributes: map[string]map[string]string{"DeliveryQueue": {"VisibilityTimeout": "1"}},
	})
	q := e.stack.Resources.Queues
	client := e.stack.SQS()
	if _, err := client.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(q["DeliveryQueue"].URL), MessageBody: aws.String(`{"not":"a job"`)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the poison message in the DLQ", 45*time.Second, func() bool {
		out, err := client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(q["DeliveryDLQ"].URL), VisibilityTimeout: 60})
		return err == nil && len(out.Messages) == 1 && *out.Messages[0].Body == `{"not":"a job"`
	})
	// The last invocation's log line comes through two pipes: give it time.
	seen := func() int { return strings.Count(e.logs.String(), "malformed delivery message") }
	waitFor(t, "the fifth invocation's log line", 5*time.Second, func() bool { return seen() >= 5 })
	if n := seen(); n != 5 {
		t.Errorf("the function saw the poison message %d times; want maxReceiveCount (5)", n)
	}
}
