package harness

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/shared/signing"
)

// Faults are the rates (0 to 1, per request) at which the receiver
// misbehaves. They add up: their sum must not pass 1.
type Faults struct {
	Fail    float64 // answer 500
	Timeout float64 // hold the request until the sender gives up, then drop it
	Reset   float64 // reset the connection without answering
	// FailFirst bounds the faults to the first N requests of each call
	// (webhook-id), so that a call can end in success on a retry; 0 lets
	// every request fail.
	FailFirst int
}

// What the receiver did with a request, as logged: an attempt that got an
// answer records its status, one that got none its error kind.
const (
	AnsweredOK      = "200"
	AnsweredFail    = "500"
	AnsweredTimeout = "timeout"
	AnsweredReset   = "reset"
)

// SignatureValid is Request.Signature for a request whose signature checked.
const SignatureValid = "valid"

// Request is one request the receiver got, and what it did with it.
type Request struct {
	CallID string // the webhook-id header
	Path   string
	Answer string // one of the Answered constants
	// Signature is SignatureValid, what is wrong with it, or "" when the
	// receiver knows no secret for the path.
	Signature string
	Bytes     int
	FirstByte time.Time // when the request's first byte arrived
	Sent      time.Time // when its event was sent, if the event was one of Events'
}

// ReceiverOptions configure a receiver.
type ReceiverOptions struct {
	Addr   string // where to listen; a free port of 127.0.0.1 if ""
	Faults Faults
	Hold   time.Duration // the longest a "timeout" request is held; 12 s if 0 (the sender waits 8 s)
	Seed   uint64        // of the fault decisions, so that a run can be repeated
	Print  io.Writer     // a line per request, for people; none if nil
}

// Receiver is the webhook endpoint of make dev, make load, make chaos and
// make cost: an HTTP server on 127.0.0.1 that checks each request's
// signature with the secret of its path, fails on purpose as its Faults
// say, and logs every request by its webhook-id. Its listener notes when
// each request's first byte arrives, for end-to-end latency.
type Receiver struct {
	URL string

	hold  time.Duration
	print io.Writer
	srv   *http.Server

	mu      sync.Mutex
	faults  Faults
	rng     *rand.Rand
	secrets map[string]string // path prefix → signing secret
	seen    map[string]int    // requests per call
	log     []Request
}

// StartReceiver starts a receiver; Close stops it.
func StartReceiver(o ReceiverOptions) (*Receiver, error) {
	if err := checkFaults(o.Faults); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", cmp.Or(o.Addr, "127.0.0.1:0"))
	if err != nil {
		return nil, fmt.Errorf("start the receiver: %w", err)
	}
	r := &Receiver{URL: "http://" + l.Addr().String(), hold: cmp.Or(o.Hold, 12*time.Second), print: o.Print, faults: o.Faults,
		rng:     rand.New(rand.NewPCG(o.Seed, 2)), // #nosec G404 -- seeded so that a run can be repeated; not a secret
		secrets: map[string]string{}, seen: map[string]int{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) }}
	go func() { _ = r.srv.Serve(&stampListener{Listener: l}) }()
	return r, nil
}

func checkFaults(f Faults) error {
	if sum := f.Fail + f.Timeout + f.Reset; sum > 1 || f.Fail < 0 || f.Timeout < 0 || f.Reset < 0 {
		return fmt.Errorf("receiver fault rates %.2f, %.2f and %.2f: each from 0 to 1, adding up to 1 at most", f.Fail, f.Timeout, f.Reset)
	}
	return nil
}

// Close stops the receiver; a request it holds is dropped.
func (r *Receiver) Close() error { return r.srv.Close() }

// Sign makes the receiver check the signatures of requests to paths that
// start with prefix against secret.
func (r *Receiver) Sign(prefix, secret string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets[prefix] = secret
}

// SetFaults changes how the receiver misbehaves from now on.
func (r *Receiver) SetFaults(f Faults) error {
	if err := checkFaults(f); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = f
	return nil
}

// Log returns every request so far, in the order they came.
func (r *Receiver) Log() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

// Calls is how many distinct calls (webhook-ids) arrived.
func (r *Receiver) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	// Taken once the whole request is read, so that the connection's next
	// request is timed afresh.
	first := time.Now()
	if c, ok := req.Context().Value(connKey{}).(*stampConn); ok {
		first = c.take()
	}
	q := Request{CallID: req.Header.Get(signing.HeaderID), Path: req.URL.Path, Bytes: len(body), FirstByte: first}
	var event string
	q.Sent, event = readPayload(body)
	r.mu.Lock()
	q.Signature = r.verify(req, body)
	q.Answer = r.decide(q.CallID)
	// Logged before answering: a 2xx written counts as received even if
	// the sender never reads it.
	r.log = append(r.log, q)
	r.mu.Unlock()
	if r.print != nil {
		signature := q.Signature
		if signature != SignatureValid && signature != "" {
			signature = "INVALID (" + signature + ")"
		}
		fmt.Fprintf(r.print, "receiver: %s %s webhook-id=%s signature %s, %d bytes\n", req.Method, strings.TrimSpace(q.Path+" "+event), q.CallID, signature, q.Bytes)
	}
	switch q.Answer {
	case AnsweredOK:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	case AnsweredFail:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"error":"injected failure"}`)
	case AnsweredTimeout:
		select {
		case <-req.Context().Done():
		case <-time.After(r.hold):
		}
		drop(w, false)
	case AnsweredReset:
		drop(w, true)
	}
}

// verify checks a request's signature with its path's secret; r.mu is held.
func (r *Receiver) verify(req *http.Request, body []byte) string {
	secret := ""
	for prefix, s := range r.secrets {
		if strings.HasPrefix(req.URL.Path, prefix) {
			secret = s
		}
	}
	if secret == "" {
		return ""
	}
	h := req.Header
	if err := signing.Verify(secret, h.Get(signing.HeaderID), h.Get(signing.HeaderTimestamp), h.Get(signing.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		return err.Error()
	}
	return SignatureValid
}

// decide draws what to do with a request of a call; r.mu is held.
func (r *Receiver) decide(callID string) string {
	r.seen[callID]++
	if r.faults.FailFirst > 0 && r.seen[callID] > r.faults.FailFirst {
		return AnsweredOK
	}
	x, f := r.rng.Float64(), r.faults
	switch {
	case x < f.Fail:
		return AnsweredFail
	case x < f.Fail+f.Timeout:
		return AnsweredTimeout
	case x < f.Fail+f.Timeout+f.Reset:
		return AnsweredReset
	}
	return AnsweredOK
}

// drop closes the request's connection without an answer; with reset, with
// a TCP RST.
func drop(w http.ResponseWriter, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot drop the connection", http.StatusServiceUnavailable)
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok && reset {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// readPayload reads what a default payload says of its event: the send
// time an event of Events carries in entity.meta, and its name
// ("item.update", "webhook.failing"), so that operational events stand out
// in the printed lines; zero values for any other body.
func readPayload(body []byte) (sent time.Time, event string) {
	var p struct {
		EntityType string `json:"entity_type"`
		EventType  string `json:"event_type"`
		Entity     struct {
			Meta struct {
				Mark marker `json:"herald_load"`
			} `json:"meta"`
		} `json:"entity"`
	}
	if json.Unmarshal(body, &p) != nil {
		return time.Time{}, ""
	}
	if p.Entity.Meta.Mark.SentNS != 0 {
		sent = time.Unix(0, p.Entity.Meta.Mark.SentNS)
	}
	if p.EntityType != "" {
		event = p.EntityType + "." + p.EventType
	}
	return sent, event
}

type connKey struct{}

// stampListener wraps each accepted connection in a stampConn.
type stampListener struct{ net.Listener }

func (l *stampListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &stampConn{Conn: c, armed: true}, nil
}

// stampConn notes when the first byte of a request arrives: the first read
// that returns data after take re-armed it. Clients (Go's included) send a
// connection's next request only after the previous answer, so that read
// belongs to the next request.
type stampConn struct {
	net.Conn
	mu    sync.Mutex
	armed bool
	first time.Time
}

func (c *stampConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		now := time.Now()
		c.mu.Lock()
		if c.armed {
			c.first, c.armed = now, false
		}
		c.mu.Unlock()
	}
	return n, err
}

// take returns the current request's first-byte time and re-arms.
func (c *stampConn) take() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.first
	c.armed = true
	return t
}
