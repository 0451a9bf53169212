package sender_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/heraldhq/herald/shared/sender"
)

// The two benchmarks send the same POST to the same kind of receiver, one
// through Sender and one through a plain net/http client, so that their
// ratio is the delivery overhead of the sender itself.

var benchBody = bytes.Repeat([]byte(`{"entity_type":"item","event_type":"update"},`), 24) // ~1 KB

func benchReceiver(b *testing.B) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"ok":true}`)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchHeader() http.Header {
	return http.Header{
		"Content-Type":      {"application/json"},
		"User-Agent":        {"Herald/1 (+webhooks)"},
		"Webhook-Id":        {"01KB0Z3V8Q4N7M2R5T9W6X1Y3Z"},
		"Webhook-Timestamp": {"1795690449"},
		"Webhook-Signature": {"v1,kyB6g3DXpKlQOUnT593kQabVZy1XQIZLm3cMxP+2cSA="},
	}
}

func BenchmarkSend(b *testing.B) {
	srv := benchReceiver(b)
	s, err := sender.New(sender.Options{AllowPrivate: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.CloseIdleConnections)
	req := sender.Request{URL: srv.URL + "/hook", Header: benchHeader(), Body: benchBody}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if res := s.Send(ctx, req); !res.Success {
			b.Fatalf("Send: %s: %s", res.ErrorKind, res.Error)
		}
	}
}

func BenchmarkBareHTTPPost(b *testing.B) {
	srv := benchReceiver(b)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	b.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport}
	url := srv.URL + "/hook"
	header := benchHeader()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(benchBody))
		if err != nil {
			b.Fatal(err)
		}
		req.Header = header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadAll(resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
