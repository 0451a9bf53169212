package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/signing"
	"github.com/heraldhq/herald/test/testenv"
)

// TestReceiverFailsOnPurpose checks each way the receiver fails, and that
// FailFirst lets a call's later requests through.
func TestReceiverFailsOnPurpose(t *testing.T) {
	tests := map[string]struct {
		faults  Faults
		status  int    // 0: the request fails
		errText string // in the client's error
		answer  string
	}{
		"fail":    {Faults{Fail: 1}, 500, "", AnsweredFail},
		"timeout": {Faults{Timeout: 1}, 0, "Client.Timeout", AnsweredTimeout},
		"reset":   {Faults{Reset: 1}, 0, "", AnsweredReset},
		"ok":      {Faults{}, 200, "", AnsweredOK},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.faults.FailFirst = 1
			r, err := StartReceiver(ReceiverOptions{Faults: tc.faults, Hold: 2 * time.Second, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			client := &http.Client{Timeout: 300 * time.Millisecond}
			send := func() (int, error) {
				req, _ := http.NewRequest("POST", r.URL+"/hook/", strings.NewReader("{}"))
				req.Header.Set("webhook-id", "call-1")
				res, err := client.Do(req)
				if err != nil {
					return 0, err
				}
				res.Body.Close()
				return res.StatusCode, nil
			}
			status, err := send()
			if status != tc.status || (tc.status == 0 && err == nil) || (tc.errText != "" && !strings.Contains(err.Error(), tc.errText)) {
				t.Errorf("first request: got %d %v, want %d %q", status, err, tc.status, tc.errText)
			}
			if status, err := send(); status != 200 {
				t.Errorf("second request of the call: got %d %v, want 200", status, err)
			}
			log := r.Log()
			if len(log) != 2 || log[0].CallID != "call-1" || log[0].Answer != tc.answer || log[1].Answer != AnsweredOK || log[0].Path != "/hook/" {
				t.Errorf("log: got %+v, want %s then 200 for call-1 at /hook/", log, tc.answer)
			}
			if r.Calls() != 1 {
				t.Errorf("%d calls counted; want 1", r.Calls())
			}
		})
	}
	if _, err := StartReceiver(ReceiverOptions{Faults: Faults{Fail: 0.6, Reset: 0.6}}); err == nil {
		t.Error("fault rates adding up to 1.2 were taken")
	}
}

// TestReceiverChecksSignatures: a path with a secret has its requests'
// signatures checked, and a wrong or missing one is logged as such; other
// paths are not checked. The printed line says the same.
func TestReceiverChecksSignatures(t *testing.T) {
	printed := &testenv.Buffer{}
	r, err := StartReceiver(ReceiverOptions{Print: printed})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	secret := signing.NewSecret()
	r.Sign("/signed/", secret)
	key, _ := signing.ParseSecret(secret)
	other, _ := signing.ParseSecret(signing.NewSecret())
	post := func(path string, keys ...[]byte) {
		t.Helper()
		body := []byte(`{"x":1}`)
		req, _ := http.NewRequest("POST", r.URL+path, bytes.NewReader(body))
		now := time.Now()
		req.Header.Set(signing.HeaderID, "call-"+path)
		req.Header.Set(signing.HeaderTimestamp, fmt.Sprint(now.Unix()))
		if len(keys) > 0 {
			req.Header.Set(signing.HeaderSignature, signing.SignatureHeader(keys, "call-"+path, now, body))
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	post("/signed/a", key)
	post("/signed/b", other)
	post("/signed/c")
	post("/plain/d")
	want := map[string]string{"/signed/a": SignatureValid, "/signed/b": "no valid signature", "/signed/c": "missing", "/plain/d": ""}
	for _, q := range r.Log() {
		if w := want[q.Path]; (w == "" && q.Signature != "") || !strings.Contains(q.Signature, w) {
			t.Errorf("%s: signature %q; want %q", q.Path, q.Signature, w)
		}
	}
	if out := printed.String(); !strings.Contains(out, "POST /signed/a webhook-id=call-/signed/a signature valid, 7 bytes") ||
		!strings.Contains(out, "/signed/b webhook-id=call-/signed/b signature INVALID (") {
		t.Errorf("printed:\n%s", out)
	}
}

// TestStampConnTimesTheFirstByte: a request whose bytes trickle in is
// timed from its first byte, not from when its last arrives, and the next
// request on the connection from its own first byte.
func TestStampConnTimesTheFirstByte(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	c := &stampConn{Conn: server, armed: true}
	buf := make([]byte, 16)
	read := func(part string) {
		t.Helper()
		go func() { _, _ = client.Write([]byte(part)) }()
		if n, err := c.Read(buf); err != nil || string(buf[:n]) != part {
			t.Fatalf("read %q, %v; want %q", buf[:n], err, part)
		}
	}
	read("POST /w")
	between := time.Now()
	read(" HTTP/1.1")
	first := c.take()
	if first.IsZero() || first.After(between) {
		t.Errorf("first byte noted at %v; want before the rest of the request came (%v)", first, between)
	}
	read("POST /x")
	if next := c.take(); next.Before(between) {
		t.Errorf("the next request's first byte noted at %v; want after the first request (%v)", next, between)
	}
}

// TestReceiverReadsTheSendTime: the send time an event of Events carries
// reaches the log, with the request's first-byte time.
func TestReceiverReadsTheSendTime(t *testing.T) {
	r, err := StartReceiver(ReceiverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	e, err := NewEvents("p1", "run")
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Unix(1_800_000_000, 42)
	ev, err := e.Make(7, "update", "1423", sent)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Entity json.RawMessage `json:"entity"`
	}
	_ = json.Unmarshal(ev.Raw, &p)
	before := time.Now()
	res, err := http.Post(r.URL+"/w", "application/json", bytes.NewReader([]byte(`{"entity":`+string(p.Entity)+`}`)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	got := r.Log()
	if len(got) != 1 || !got[0].Sent.Equal(sent) || got[0].FirstByte.Before(before) {
		t.Errorf("logged %+v; want the send time %v and a first byte after %v", got, sent, before)
	}
}
