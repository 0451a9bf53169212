package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestReceiverTimesTheFirstByte: a request whose bytes trickle in is timed
// from its first byte, not from when the handler runs, and a second request
// on the same kept-alive connection is timed from its own first byte.
func TestReceiverTimesTheFirstByte(t *testing.T) {
	rcv, err := startReceiver()
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(rcv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	send := func(call string, pause time.Duration) time.Time {
		t.Helper()
		body := fmt.Sprintf(`{"webhook_id":"w1","entity":{"meta":{"herald_load":{"run":"r","seq":7,"sent_unix_ns":%d}}}}`, time.Now().UnixNano())
		req := fmt.Sprintf("POST /w HTTP/1.1\r\nHost: x\r\nWebhook-Id: %s\r\nContent-Length: %d\r\n\r\n%s", call, len(body), body)
		started := time.Now()
		if _, err := conn.Write([]byte(req[:10])); err != nil {
			t.Fatal(err)
		}
		time.Sleep(pause)
		if _, err := conn.Write([]byte(req[10:])); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return started
	}
	first := send("c1", 300*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	second := send("c2", 0)

	got, ids := rcv.snapshot()
	if len(got) != 2 || ids["c1"] != 1 || ids["c2"] != 1 {
		t.Fatalf("got %+v", got)
	}
	for i, want := range []time.Time{first, second} {
		if d := got[i].FirstByte.Sub(want); d < 0 || d > 100*time.Millisecond {
			t.Errorf("request %d: first byte noted %v after it was written; want within 100ms", i+1, d)
		}
	}
	if got[0].Seq != 7 || got[0].WebhookID != "w1" || got[0].Sent.IsZero() {
		t.Errorf("payload marker not read: %+v", got[0])
	}
}
