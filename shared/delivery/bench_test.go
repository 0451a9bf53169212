package delivery_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/shared/delivery"
	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/sender"
	"github.com/heraldhq/herald/shared/signing"
	"github.com/heraldhq/herald/shared/sqs"
	"github.com/heraldhq/herald/test/benchkit"
)

// BenchmarkDeliverMessage compares the delivery handler's whole per-message
// path with a bare net/http POST of the same body to the same kind of local
// receiver. The handler runs against benchkit's in-memory DynamoDB and SQS
// clients behind the real dynamo and sqs adapters, so its figure is the CPU
// of Herald's own code. "handler" is a first attempt as ingest queues it
// (the common path): decode the job and the payload it carries, read the
// webhook (cached), render the default payload, sign, send through the SSRF
// guarded sender, marshal the record update, write the metrics and log the
// outcome as JSON. "handler-claim" is a retry or resend: the same, plus the
// claim (unmarshal the call item) and reading the event's payload. The AWS
// SDK's request signing and HTTPS to DynamoDB are not in it (see
// docs/performance.md). "sender" sends the handler's signed request through
// sender.Sender alone, to split the difference.
//
// cpu-ns/op is the process's CPU time per message, the receiver's included
// (it is the same receiver on every path).
func BenchmarkDeliverMessage(b *testing.B) {
	b.Run("path=handler", func(b *testing.B) {
		f := newBenchDelivery(b)
		ev := events.SQSEvent{Records: []events.SQSMessage{f.first}}
		ctx := context.Background()
		b.ReportAllocs()
		cpu := benchkit.StartCPU()
		for b.Loop() {
			resp, err := f.handler.HandleSQS(ctx, ev)
			if err != nil || len(resp.BatchItemFailures) > 0 {
				b.Fatalf("HandleSQS: %v %+v", err, resp)
			}
		}
		cpu.Report(b)
		f.checkReceived(b)
	})
	b.Run("path=handler-claim", func(b *testing.B) {
		f := newBenchDelivery(b)
		ev := events.SQSEvent{Records: []events.SQSMessage{f.msg}}
		ctx := context.Background()
		b.ReportAllocs()
		cpu := benchkit.StartCPU()
		for b.Loop() {
			resp, err := f.handler.HandleSQS(ctx, ev)
			if err != nil || len(resp.BatchItemFailures) > 0 {
				b.Fatalf("HandleSQS: %v %+v", err, resp)
			}
		}
		cpu.Report(b)
		f.checkReceived(b)
	})
	b.Run("path=sender", func(b *testing.B) {
		f := newBenchDelivery(b)
		ctx := context.Background()
		b.ReportAllocs()
		cpu := benchkit.StartCPU()
		for b.Loop() {
			if res := f.send.Send(ctx, f.signed); !res.Success {
				b.Fatalf("Send: %s: %s", res.ErrorKind, res.Error)
			}
		}
		cpu.Report(b)
		f.checkReceived(b)
	})
	b.Run("path=bare-post", func(b *testing.B) {
		f := newBenchDelivery(b)
		transport := http.DefaultTransport.(*http.Transport).Clone()
		b.Cleanup(transport.CloseIdleConnections)
		client := &http.Client{Transport: transport}
		ctx := context.Background()
		b.ReportAllocs()
		cpu := benchkit.StartCPU()
		for b.Loop() {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.signed.URL, bytes.NewReader(f.signed.Body))
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
		cpu.Report(b)
		f.checkReceived(b)
	})
}

type benchDelivery struct {
	handler  *delivery.Handler
	send     *sender.Sender
	msg      events.SQSMessage // a job that claims its attempt
	first    events.SQSMessage // a first attempt's job, fresh, as ingest queues it
	signed   sender.Request    // the request the handler sends, signed
	received atomic.Int64
	bodySize int
}

func newBenchDelivery(b *testing.B) *benchDelivery {
	b.Helper()
	f := &benchDelivery{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if int(n) == f.bodySize {
			f.received.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	b.Cleanup(rcv.Close)

	clock := herald.SystemClock{}
	store := dynamo.New(benchkit.NewDynamo(), "bench", clock)
	send, err := sender.New(sender.Options{AllowPrivate: true, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(send.CloseIdleConnections)
	f.send = send
	f.handler = delivery.New(delivery.Deps{Store: store, Queue: sqs.New(&benchkit.SQS{}, "bench-queue"), Sender: send, Clock: clock, Log: config.Logger(io.Discard, slog.LevelInfo)})

	ctx := context.Background()
	now := clock.Now().Truncate(time.Millisecond)
	hook, err := herald.NewWebhook("205", herald.NewID(now), herald.WebhookInput{
		Name: herald.Some("site build"), URL: herald.Some(rcv.URL + "/hooks/build"),
		CustomPayload: herald.Some[*string](nil), Headers: herald.Some(map[string]string{"X-Team": "web"}),
		Events:        herald.Some([]herald.Trigger{{EntityType: "item", EventTypes: []string{"update"}}}),
		HTTPBasicUser: herald.Some[*string](nil), HTTPBasicPassword: herald.Some[*string](nil),
	}, now)
	if err != nil {
		b.Fatal(err)
	}
	hook.Secret.Current = signing.NewSecret()
	if err := store.CreateWebhook(ctx, hook); err != nil {
		b.Fatal(err)
	}
	ev, _, err := herald.ParseEvent(benchkit.RecordUpdate("205", "evt_bench", "1423"))
	if err != nil {
		b.Fatal(err)
	}
	call := herald.NewCall(herald.NewID(now), hook, ev, now, 30*24*time.Hour)
	doc, err := herald.MarshalPayload(call.Payload)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := store.ClaimEvent(ctx, "205", ev.EventID, []herald.CallRef{{WebhookID: hook.ID, CallID: call.ID}}, doc, call.ExpiresAt); err != nil {
		b.Fatal(err)
	}
	if _, err := store.CreateCall(ctx, call); err != nil {
		b.Fatal(err)
	}
	job, _ := herald.EncodeJob(herald.Job{ProjectID: "205", CallID: call.ID, Trigger: herald.TriggerFirst, Replay: true})
	f.msg = events.SQSMessage{MessageId: "m1", Body: string(job), Attributes: map[string]string{"ApproximateReceiveCount": "2"}}
	first, _ := herald.EncodeJob(herald.Job{ProjectID: "205", CallID: call.ID, Trigger: herald.TriggerFirst, WebhookID: hook.ID,
		EntityType: call.EntityType, EventType: call.EventType, EventID: ev.EventID, ExpiresAt: call.ExpiresAt.Unix(), Payload: doc})
	f.first = events.SQSMessage{MessageId: "m2", Body: string(first), Attributes: map[string]string{"ApproximateReceiveCount": "1"}}

	req, err := herald.RenderRequest(hook, call, 0)
	if err != nil {
		b.Fatal(err)
	}
	key, err := signing.ParseSecret(hook.Secret.Current)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("webhook-id", call.ID)
	req.Header.Set("webhook-timestamp", "1795690449")
	req.Header.Set("webhook-signature", signing.Sign(key, call.ID, time.Unix(1795690449, 0), req.Body))
	f.signed = sender.Request{URL: req.URL, Header: req.Header, Body: req.Body}
	f.bodySize = len(req.Body)
	return f
}

// checkReceived fails the benchmark unless every iteration's POST arrived
// whole: a path that sent less would look cheaper than it is.
func (f *benchDelivery) checkReceived(b *testing.B) {
	b.Helper()
	if got := f.received.Load(); got != int64(b.N) {
		b.Fatalf("receiver got %d whole bodies of %d bytes; want %d", got, f.bodySize, b.N)
	}
	b.ReportMetric(float64(f.bodySize), "body-bytes")
}
