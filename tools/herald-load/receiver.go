package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// receiver is the webhook endpoint of a run: an HTTP server on 127.0.0.1
// that answers 200 to everything and notes, for every request, the time its
// first byte arrived, its call id (webhook-id) and the event's send time
// that the payload carries.
type receiver struct {
	URL string

	srv *http.Server
	mu  sync.Mutex
	got []delivery
	ids map[string]int // requests per call id
}

// delivery is one request the receiver got.
type delivery struct {
	CallID    string
	WebhookID string
	Seq       int
	Sent      time.Time // when the load generator invoked ingest with the event
	FirstByte time.Time
}

// loadMarker is what every generated event carries in entity.meta, so that
// the default payload brings it to the receiver.
type loadMarker struct {
	Run    string `json:"run"`
	Seq    int    `json:"seq"`
	SentNS int64  `json:"sent_unix_ns"`
}

func startReceiver() (*receiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	r := &receiver{URL: "http://" + l.Addr().String(), ids: map[string]int{}}
	r.srv = &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	go func() { _ = r.srv.Serve(&stampListener{Listener: l}) }()
	return r, nil
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	// Take the first byte's time now that the whole request is read, so
	// that the connection's next request is timed afresh.
	first := time.Now()
	if c, ok := req.Context().Value(connKey{}).(*stampConn); ok {
		first = c.take()
	}
	var p struct {
		WebhookID string `json:"webhook_id"`
		Entity    struct {
			Meta struct {
				Load loadMarker `json:"herald_load"`
			} `json:"meta"`
		} `json:"entity"`
	}
	_ = json.Unmarshal(body, &p)
	m := p.Entity.Meta.Load
	d := delivery{CallID: req.Header.Get("Webhook-Id"), WebhookID: p.WebhookID, Seq: m.Seq, FirstByte: first}
	if m.SentNS != 0 {
		d.Sent = time.Unix(0, m.SentNS)
	}
	r.mu.Lock()
	r.got = append(r.got, d)
	r.ids[d.CallID]++
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
}

// unique is how many distinct calls arrived.
func (r *receiver) unique() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

// snapshot returns the requests so far and the count per call id.
func (r *receiver) snapshot() ([]delivery, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make(map[string]int, len(r.ids))
	for k, v := range r.ids {
		ids[k] = v
	}
	return append([]delivery(nil), r.got...), ids
}

func (r *receiver) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stop the receiver: %w", err)
	}
	return r.srv.Close()
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
