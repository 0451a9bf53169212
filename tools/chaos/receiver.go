package chaos

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"
)

// ReceiverFaults are the rates (0 to 1, per request) at which a receiver
// misbehaves, for the first FailFirst requests carrying a webhook-id; later
// ones are answered 200, so a call can end in success on a retry.
type ReceiverFaults struct {
	Fail    float64 // answer 500
	Timeout float64 // hold the request until the sender gives up (never answer 2xx)
	Reset   float64 // reset the connection without answering
	// FailFirst bounds the faults to the first N requests of each
	// webhook-id; 0 means every request may fail.
	FailFirst int
}

// What a receiver did with a request, as logged.
const (
	AnsweredOK      = "200"
	AnsweredFail    = "500"
	AnsweredTimeout = "timeout"
	AnsweredReset   = "reset"
)

// Request is one request a receiver got, and what it did.
type Request struct {
	WebhookID string // the webhook-id header: the call id
	Answer    string // one of the Answered constants
}

// Receiver is a local webhook receiver that fails on purpose and logs every
// request it gets.
type Receiver struct {
	Name string
	URL  string

	faults ReceiverFaults
	hold   time.Duration
	server *http.Server

	mu   sync.Mutex
	rng  *rand.Rand
	seen map[string]int
	log  []Request
}

// StartReceiver listens on a free port of 127.0.0.1. hold is how long a
// "timeout" request is held at most (longer than the sender waits).
func StartReceiver(name string, faults ReceiverFaults, hold time.Duration, seed uint64) (*Receiver, error) {
	if sum := faults.Fail + faults.Timeout + faults.Reset; sum > 1 {
		return nil, fmt.Errorf("receiver %s: fault rates add up to %.2f; at most 1", name, sum)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("receiver %s: %w", name, err)
	}
	r := &Receiver{Name: name, URL: "http://" + l.Addr().String() + "/" + name, faults: faults, hold: hold,
		rng: rand.New(rand.NewPCG(seed, 2)), seen: map[string]int{}} // #nosec G404 -- seeded so a chaos run can be repeated; not a secret
	r.server = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.server.Serve(l) }()
	return r, nil
}

// Close stops the receiver.
func (r *Receiver) Close() { _ = r.server.Close() }

func (r *Receiver) decide(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[id]++
	if r.faults.FailFirst > 0 && r.seen[id] > r.faults.FailFirst {
		return AnsweredOK
	}
	x := r.rng.Float64()
	switch {
	case x < r.faults.Fail:
		return AnsweredFail
	case x < r.faults.Fail+r.faults.Timeout:
		return AnsweredTimeout
	case x < r.faults.Fail+r.faults.Timeout+r.faults.Reset:
		return AnsweredReset
	}
	return AnsweredOK
}

func (r *Receiver) record(id, answer string) {
	r.mu.Lock()
	r.log = append(r.log, Request{WebhookID: id, Answer: answer})
	r.mu.Unlock()
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	_, _ = io.Copy(io.Discard, req.Body)
	id := req.Header.Get("webhook-id")
	answer := r.decide(id)
	// Logged before answering: a 2xx the receiver wrote counts as received
	// even if the sender never reads it.
	r.record(id, answer)
	switch answer {
	case AnsweredOK:
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "ok")
	case AnsweredFail:
		http.Error(w, "injected failure", http.StatusInternalServerError)
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

// drop closes the request's connection without an answer; with reset, with
// a TCP RST.
func drop(w http.ResponseWriter, reset bool) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot drop the connection", http.StatusServiceUnavailable)
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		http.Error(w, "cannot drop the connection", http.StatusServiceUnavailable)
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok && reset {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// Log returns every request the receiver got, in order.
func (r *Receiver) Log() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.log...)
}
