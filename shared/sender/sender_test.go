package sender_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/sender"
)

// Short timeouts keep the suite fast; every receiver listens on 127.0.0.1,
// so receiver tests allow private targets.
const (
	testConnectTimeout = 500 * time.Millisecond
	testTotalTimeout   = 400 * time.Millisecond
)

func newSender(t *testing.T, opts sender.Options) *sender.Sender {
	t.Helper()
	s, err := sender.New(opts)
	if err != nil {
		t.Fatalf("sender.New: %v", err)
	}
	t.Cleanup(s.CloseIdleConnections)
	return s
}

func localSender(t *testing.T) *sender.Sender {
	t.Helper()
	return newSender(t, sender.Options{
		ConnectTimeout: testConnectTimeout,
		TotalTimeout:   testTotalTimeout,
		AllowPrivate:   true,
	})
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// send runs Send, failing the test if it does not return: a sender that
// ignores its timeouts must fail here, not hang the suite.
func send(t *testing.T, s *sender.Sender, req sender.Request) sender.Result {
	t.Helper()
	done := make(chan sender.Result, 1)
	go func() { done <- s.Send(context.Background(), req) }()
	select {
	case res := <-done:
		return res
	case <-time.After(20 * time.Second):
		t.Fatalf("Send(%s) did not return within 20s", req.URL)
		return sender.Result{}
	}
}

func post(url string) sender.Request {
	return sender.Request{
		URL:    url,
		Header: http.Header{"Content-Type": {"application/json"}, "User-Agent": {"Herald-Test/1"}},
		Body:   []byte(`{"entity_type":"item","event_type":"update"}`),
	}
}

// wantFailure checks the parts every failed attempt has.
func wantFailure(t *testing.T, res sender.Result, kind string, status int) {
	t.Helper()
	t.Logf("%s: %s", res.ErrorKind, res.Error)
	if res.Success {
		t.Errorf("Success = true, want false")
	}
	if res.ErrorKind != kind {
		t.Errorf("ErrorKind = %q (Error %q), want %q", res.ErrorKind, res.Error, kind)
	}
	if res.Error == "" {
		t.Errorf("Error is empty, want a message")
	}
	if res.Status != status {
		t.Errorf("Status = %d, want %d", res.Status, status)
	}
}

func TestSendSuccess(t *testing.T) {
	type received struct {
		method string
		header http.Header
		body   []byte
	}
	got := make(chan received, 1)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- received{r.Method, r.Header.Clone(), body}
		w.Header().Set("X-Receiver", "yes")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"ok":true}`)
	})

	req := post(srv.URL + "/hook?x=1")
	req.Header.Set("Webhook-Id", "01KB0Z3V8Q4N7M2R5T9W6X1Y3Z")
	req.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
	res := send(t, localSender(t), req)

	if !res.Success || res.ErrorKind != "" || res.Error != "" {
		t.Fatalf("Success, ErrorKind, Error = %v, %q, %q; want true, \"\", \"\"", res.Success, res.ErrorKind, res.Error)
	}
	if res.Status != http.StatusCreated {
		t.Errorf("Status = %d, want 201", res.Status)
	}
	if got, want := string(res.Body), `{"ok":true}`; got != want {
		t.Errorf("Body = %q, want %q", got, want)
	}
	if res.BodyTruncated {
		t.Errorf("BodyTruncated = true, want false")
	}
	if got := res.Header.Get("X-Receiver"); got != "yes" {
		t.Errorf("response header X-Receiver = %q, want yes", got)
	}
	if res.Duration <= 0 {
		t.Errorf("Duration = %v, want > 0", res.Duration)
	}

	r := <-got
	if r.method != http.MethodPost {
		t.Errorf("method = %s, want POST", r.method)
	}
	if !bytes.Equal(r.body, req.Body) {
		t.Errorf("receiver got body %q, want %q", r.body, req.Body)
	}
	// Exactly the given headers, plus Content-Length.
	wantKeys := []string{"Authorization", "Content-Length", "Content-Type", "User-Agent", "Webhook-Id"}
	gotKeys := slices.Sorted(func(yield func(string) bool) {
		for k := range r.header {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(gotKeys, wantKeys) {
		t.Errorf("receiver got headers %v, want %v", gotKeys, wantKeys)
	}
	for _, k := range []string{"Content-Type", "User-Agent", "Webhook-Id", "Authorization"} {
		if got, want := r.header.Get(k), req.Header.Get(k); got != want {
			t.Errorf("receiver got %s %q, want %q", k, got, want)
		}
	}
}

func TestSendStatus(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 54, 9, 0, time.UTC)
	tests := map[string]struct {
		status     int
		retryAfter string
		wantRetry  time.Duration
		wantError  string
	}{
		"500":                       {500, "", 0, "HTTP 500 Internal Server Error"},
		"404":                       {404, "", 0, "HTTP 404 Not Found"},
		"410":                       {410, "", 0, "HTTP 410 Gone"},
		"429, Retry-After seconds":  {429, "120", 120 * time.Second, "HTTP 429 Too Many Requests"},
		"503, Retry-After date":     {503, now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, "HTTP 503 Service Unavailable"},
		"429, Retry-After past":     {429, now.Add(-time.Hour).Format(http.TimeFormat), 0, "HTTP 429 Too Many Requests"},
		"429, Retry-After garbage":  {429, "soon", 0, "HTTP 429 Too Many Requests"},
		"429, Retry-After negative": {429, "-5", 0, "HTTP 429 Too Many Requests"},
		"429, Retry-After huge":     {429, "99999999999999", 0, "HTTP 429 Too Many Requests"},
		// The contract honours Retry-After on 429 and 503 only (issue 10,
		// defect 4): on any other status it is not reported at all.
		"500, Retry-After ignored":           {500, "172800", 0, "HTTP 500 Internal Server Error"},
		"502, Retry-After ignored":           {502, "60", 0, "HTTP 502 Bad Gateway"},
		"200 with Retry-After: not reported": {200, "30", 0, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, "status %d", tc.status)
			})
			s := newSender(t, sender.Options{
				TotalTimeout: 5 * time.Second,
				AllowPrivate: true,
				Clock:        herald.ClockFunc(func() time.Time { return now }),
			})
			res := send(t, s, post(srv.URL))

			if tc.wantError == "" {
				if !res.Success {
					t.Fatalf("Success = false (%s: %s), want true", res.ErrorKind, res.Error)
				}
			} else {
				wantFailure(t, res, herald.ErrKindHTTPStatus, tc.status)
				if res.Error != tc.wantError {
					t.Errorf("Error = %q, want %q", res.Error, tc.wantError)
				}
			}
			if res.RetryAfter != tc.wantRetry {
				t.Errorf("RetryAfter = %v, want %v", res.RetryAfter, tc.wantRetry)
			}
			if got, want := string(res.Body), fmt.Sprintf("status %d", tc.status); got != want {
				t.Errorf("Body = %q, want %q", got, want)
			}
		})
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Int32
	target := serve(t, func(w http.ResponseWriter, r *http.Request) { followed.Add(1) })
	tests := map[string]struct {
		status   int
		location string
	}{
		"302 to a private address": {http.StatusFound, "http://10.0.0.1/internal"},
		"302 to loopback":          {http.StatusFound, target.URL + "/found"},
		"301":                      {http.StatusMovedPermanently, target.URL + "/moved"},
		"307":                      {http.StatusTemporaryRedirect, target.URL + "/temporary"},
		"308":                      {http.StatusPermanentRedirect, target.URL + "/permanent"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, tc.location, tc.status)
			})
			// AllowPrivate, so that only the no-redirect rule stops it.
			res := send(t, localSender(t), post(srv.URL))

			wantFailure(t, res, herald.ErrKindRedirect, tc.status)
			if !strings.Contains(res.Error, tc.location) {
				t.Errorf("Error = %q, want it to name %s", res.Error, tc.location)
			}
			if got := res.Header.Get("Location"); got != tc.location {
				t.Errorf("Location = %q, want %q", got, tc.location)
			}
		})
	}
	if n := followed.Load(); n != 0 {
		t.Errorf("redirect target got %d requests, want 0", n)
	}
}

func TestSendTimeouts(t *testing.T) {
	t.Run("handler sleeps past the total timeout", func(t *testing.T) {
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
			// The server notices the client leaving only once the body
			// is read.
			io.ReadAll(r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		})
		res := send(t, localSender(t), post(srv.URL))
		wantFailure(t, res, herald.ErrKindTimeout, 0)
		if want := fmt.Sprintf("timed out after %s", testTotalTimeout); res.Error != want {
			t.Errorf("Error = %q, want %q", res.Error, want)
		}
		if res.Duration < testTotalTimeout {
			t.Errorf("Duration = %v, want at least the total timeout %v", res.Duration, testTotalTimeout)
		}
	})

	t.Run("server accepts and never sends headers", func(t *testing.T) {
		addr := silentServer(t)
		res := send(t, localSender(t), post("http://"+addr+"/"))
		wantFailure(t, res, herald.ErrKindTimeout, 0)
		if res.Duration < testTotalTimeout {
			t.Errorf("Duration = %v, want at least the total timeout %v", res.Duration, testTotalTimeout)
		}
	})

	t.Run("body trickles past the total timeout", func(t *testing.T) {
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body)
			w.WriteHeader(http.StatusOK)
			// Bounded, so that a sender that never gives up fails the
			// test instead of blocking the server's Close.
			for range 500 {
				if _, err := io.WriteString(w, "."); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
		res := send(t, localSender(t), post(srv.URL))
		// The status arrived; the attempt still failed on time.
		wantFailure(t, res, herald.ErrKindTimeout, http.StatusOK)
		if len(res.Body) == 0 || strings.Trim(string(res.Body), ".") != "" {
			t.Errorf("Body = %q, want the dots that arrived in time", res.Body)
		}
	})

	t.Run("caller's context ends first", func(t *testing.T) {
		addr := silentServer(t)
		s := newSender(t, sender.Options{TotalTimeout: 10 * time.Second, AllowPrivate: true})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		res := s.Send(ctx, post("http://"+addr+"/"))
		wantFailure(t, res, herald.ErrKindTimeout, 0)
		if !strings.HasPrefix(res.Error, "timed out after ") || strings.Contains(res.Error, "10s") {
			t.Errorf("Error = %q, want the time actually spent, not the 10s total timeout", res.Error)
		}
	})
}

// silentServer accepts connections and reads them, never answering.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { io.Copy(io.Discard, c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func TestSendConnectionClosed(t *testing.T) {
	tests := map[string]struct {
		linger0   bool
		wantError string
	}{
		"reset (SO_LINGER 0)":   {true, "connection reset by peer"},
		"closed without answer": {false, "connection closed before a response"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				io.ReadAll(r.Body)
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Errorf("hijack: %v", err)
					return
				}
				if tc.linger0 {
					if err := conn.(*net.TCPConn).SetLinger(0); err != nil {
						t.Errorf("SetLinger: %v", err)
					}
				}
				conn.Close()
			})
			res := send(t, localSender(t), post(srv.URL))
			wantFailure(t, res, herald.ErrKindReset, 0)
			if res.Error != tc.wantError {
				t.Errorf("Error = %q, want %q", res.Error, tc.wantError)
			}
		})
	}
}

func TestSendConnectionClosedMidBody(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
		buf.Flush()
		conn.Close()
	})
	res := send(t, localSender(t), post(srv.URL))
	wantFailure(t, res, herald.ErrKindReset, http.StatusOK)
	if string(res.Body) != "abc" {
		t.Errorf("Body = %q, want %q", res.Body, "abc")
	}
}

func TestSendRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	res := send(t, localSender(t), post("http://"+addr+"/"))
	wantFailure(t, res, herald.ErrKindRefused, 0)
	if res.Error != "connection refused" {
		t.Errorf("Error = %q, want %q", res.Error, "connection refused")
	}
}

func TestSendResponseBodyCap(t *testing.T) {
	const limit = herald.MaxStoredResponseBody
	fixed := func(n int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(n))
			chunk := bytes.Repeat([]byte("a"), 64<<10)
			for n > 0 {
				k := min(n, len(chunk))
				if _, err := w.Write(chunk[:k]); err != nil {
					return
				}
				n -= k
			}
		}
	}
	tests := map[string]struct {
		handler       http.HandlerFunc
		wantLen       int
		wantTruncated bool
	}{
		"10 MB":             {fixed(10 << 20), limit, true},
		"one byte too many": {fixed(limit + 1), limit, true},
		"exactly the limit": {fixed(limit), limit, false},
		"empty":             {fixed(0), 0, false},
		// An endless body at 640 KB/s: a sender that stops at the cap
		// returns after two chunks; one that reads on, even to 1 MB, runs
		// into the 1s total timeout.
		"endless stream": {func(w http.ResponseWriter, r *http.Request) {
			chunk := bytes.Repeat([]byte("b"), 16<<10)
			for range 1000 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(25 * time.Millisecond):
				}
			}
		}, limit, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := serve(t, tc.handler)
			s := newSender(t, sender.Options{TotalTimeout: time.Second, AllowPrivate: true})
			res := send(t, s, post(srv.URL))

			if !res.Success {
				t.Fatalf("Success = false (%s: %s), want true", res.ErrorKind, res.Error)
			}
			if len(res.Body) != tc.wantLen {
				t.Errorf("len(Body) = %d, want %d", len(res.Body), tc.wantLen)
			}
			if res.BodyTruncated != tc.wantTruncated {
				t.Errorf("BodyTruncated = %v, want %v", res.BodyTruncated, tc.wantTruncated)
			}
		})
	}
}

// tlsServer starts an HTTPS receiver with cfg (nil: httptest's), its
// handshake errors kept out of the test output, and the roots that trust it.
func tlsServer(t *testing.T, cfg *tls.Config) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return srv, roots
}

func TestSendTLS(t *testing.T) {

	t.Run("untrusted certificate", func(t *testing.T) {
		srv, _ := tlsServer(t, nil)
		res := send(t, localSender(t), post(srv.URL))
		wantFailure(t, res, herald.ErrKindTLS, 0)
		if !strings.Contains(res.Error, "certificate") {
			t.Errorf("Error = %q, want it to mention the certificate", res.Error)
		}
	})

	t.Run("trusted certificate", func(t *testing.T) {
		srv, roots := tlsServer(t, nil)
		s := newSender(t, sender.Options{TotalTimeout: 5 * time.Second, AllowPrivate: true, RootCAs: roots})
		res := send(t, s, post(srv.URL))
		if !res.Success || string(res.Body) != "ok" {
			t.Errorf("Success, Body = %v, %q (%s: %s); want true, ok", res.Success, res.Body, res.ErrorKind, res.Error)
		}
	})

	t.Run("trusted certificate, address in decimal", func(t *testing.T) {
		srv, roots := tlsServer(t, nil)
		port := srv.Listener.Addr().(*net.TCPAddr).Port
		s := newSender(t, sender.Options{TotalTimeout: 5 * time.Second, AllowPrivate: true, RootCAs: roots})
		res := send(t, s, post(fmt.Sprintf("https://2130706433:%d/", port)))
		if !res.Success {
			t.Errorf("Send: %s: %s, want success (the certificate names 127.0.0.1)", res.ErrorKind, res.Error)
		}
	})

	t.Run("server below TLS 1.2", func(t *testing.T) {
		srv, roots := tlsServer(t, &tls.Config{MaxVersion: tls.VersionTLS11})
		s := newSender(t, sender.Options{TotalTimeout: 5 * time.Second, AllowPrivate: true, RootCAs: roots})
		res := send(t, s, post(srv.URL))
		wantFailure(t, res, herald.ErrKindTLS, 0)
	})

	t.Run("alert after the handshake (client certificate required)", func(t *testing.T) {
		srv, roots := tlsServer(t, &tls.Config{ClientAuth: tls.RequireAnyClientCert})
		s := newSender(t, sender.Options{TotalTimeout: 5 * time.Second, AllowPrivate: true, RootCAs: roots})
		res := send(t, s, post(srv.URL))
		wantFailure(t, res, herald.ErrKindTLS, 0)
	})

	t.Run("https to a plain HTTP server", func(t *testing.T) {
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {})
		res := send(t, localSender(t), post(strings.Replace(srv.URL, "http://", "https://", 1)))
		wantFailure(t, res, herald.ErrKindTLS, 0)
	})
}

// fakeResolver answers from a map, as a DNS server under an attacker's
// control would: any name, any address.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, Server: "10.0.0.2:53", IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range addrs {
		// Like net.Resolver, hand out IPv4 in IPv6 form.
		out = append(out, netip.AddrFrom16(netip.MustParseAddr(a).As16()))
	}
	return out, nil
}

func TestSendBlocksPrivateTargets(t *testing.T) {
	// A live receiver on loopback: if any check fails open, it gets a hit.
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	local := func(host string) string { return fmt.Sprintf("http://%s:%d/hook", host, port) }

	s := newSender(t, sender.Options{
		ConnectTimeout: testConnectTimeout,
		TotalTimeout:   2 * time.Second,
		Resolver: fakeResolver{
			"rebind.example":   {"10.1.2.3"},
			"loopback.example": {"127.0.0.1"},
			"mixed.example":    {"127.0.0.1", "::1"},
			"metadata.example": {"169.254.169.254"},
			"localhost":        {"127.0.0.1", "::1"},
		},
	})
	// The real resolver for "localhost", as /etc/hosts has it.
	sys := newSender(t, sender.Options{ConnectTimeout: testConnectTimeout, TotalTimeout: 2 * time.Second})

	tests := []struct {
		s        *sender.Sender
		url      string
		wantAddr string // the address the error must name
	}{
		{s, local("127.0.0.1"), "127.0.0.1"},
		{s, local("2130706433"), "127.0.0.1"},
		{s, local("0177.0.0.1"), "127.0.0.1"},
		{s, local("0x7f.0.0.1"), "127.0.0.1"},
		{s, local("0x7f000001"), "127.0.0.1"},
		{s, local("017700000001"), "127.0.0.1"},
		{s, local("127.1"), "127.0.0.1"},
		{s, local("127.0.0.1."), "127.0.0.1"},
		{s, local("[::1]"), "::1"},
		{s, local("[::ffff:127.0.0.1]"), "::ffff:127.0.0.1"},
		{s, local("[::127.0.0.1]"), "::7f00:1"},
		{s, local("[64:ff9b::7f00:1]"), "64:ff9b::7f00:1"},
		{s, local("[2002:7f00:1::1]"), "2002:7f00:1::1"},
		{s, local("0.0.0.0"), "0.0.0.0"},
		{s, local("[::]"), "::"},
		{s, "http://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1"},
		{s, "http://[::ffff:a00:1]/", "::ffff:10.0.0.1"},
		{s, "http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254"},
		{s, "http://169.254.169.254/latest/meta-data/iam/", "169.254.169.254"},
		{s, "http://2852039166/latest/meta-data/", "169.254.169.254"},
		{s, "http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe"},
		{s, "http://100.64.0.1/", "100.64.0.1"},
		{s, "http://10.0.0.5/", "10.0.0.5"},
		{s, "http://172.16.0.1/", "172.16.0.1"},
		{s, "http://192.168.1.1/", "192.168.1.1"},
		{s, "https://192.168.1.1/", "192.168.1.1"},
		{s, "http://[fe80::1%25lo]/", "fe80::1"},
		{s, "http://224.0.0.1/", "224.0.0.1"},
		{s, "http://255.255.255.255/", "255.255.255.255"},
		{s, "http://[::10.1.2.3]/", "::a01:203"},
		{s, "http://[64:ff9b::a01:203]/", "64:ff9b::a01:203"},
		{s, "http://rebind.example/", "10.1.2.3"},
		{s, "https://rebind.example/", "10.1.2.3"},
		{s, local("loopback.example"), "127.0.0.1"},
		{s, local("mixed.example"), "127.0.0.1"},
		{s, "http://metadata.example/", "169.254.169.254"},
		{s, local("localhost"), "127.0.0.1"},
		{sys, local("localhost"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			res := send(t, tc.s, post(tc.url))
			wantFailure(t, res, herald.ErrKindBlocked, 0)
			if tc.wantAddr != "" && !strings.HasPrefix(res.Error, "address "+tc.wantAddr+" ") {
				t.Errorf("Error = %q, want it to start with %q", res.Error, "address "+tc.wantAddr+" ")
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback receiver got %d requests, want 0", n)
	}
}

// A proxy connects on the sender's behalf, out of reach of the address
// check: the sender must not pick one up from the environment. net/http
// reads the proxy variables once per process, so the send runs in a fresh
// process, TestProxyEnvironmentChild.
func TestSendIgnoresProxyEnvironment(t *testing.T) {
	var proxied, direct atomic.Int32
	proxy := serve(t, func(w http.ResponseWriter, r *http.Request) { proxied.Add(1) })
	receiver := serve(t, func(w http.ResponseWriter, r *http.Request) { direct.Add(1) })
	port := receiver.Listener.Addr().(*net.TCPAddr).Port

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestProxyEnvironmentChild$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("%s=%d", proxyChildEnv, port),
		"HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL,
		"HTTPS_PROXY="+proxy.URL, "https_proxy="+proxy.URL,
		"NO_PROXY=", "no_proxy=",
	)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child test: %v\n%s", err, out)
	}
	if p, d := proxied.Load(), direct.Load(); p != 0 || d != 1 {
		t.Errorf("proxy got %d requests and receiver %d, want 0 and 1", p, d)
	}
}

const proxyChildEnv = "HERALD_SENDER_PROXY_CHILD_PORT"

// TestProxyEnvironmentChild does nothing unless TestSendIgnoresProxyEnvironment
// runs it, with the proxy variables set and the receiver's port.
func TestProxyEnvironmentChild(t *testing.T) {
	port := os.Getenv(proxyChildEnv)
	if port == "" {
		return
	}
	s := newSender(t, sender.Options{
		TotalTimeout: 5 * time.Second,
		AllowPrivate: true,
		Resolver:     fakeResolver{"receiver.example": {"127.0.0.1"}},
	})
	res := send(t, s, post("http://receiver.example:"+port+"/"))
	if !res.Success {
		t.Fatalf("Send: %s: %s, want success", res.ErrorKind, res.Error)
	}
}

func TestSendBlockedErrorNamesHost(t *testing.T) {
	s := newSender(t, sender.Options{Resolver: fakeResolver{"rebind.example": {"10.1.2.3"}}})
	res := send(t, s, post("http://rebind.example/"))
	if want := "address 10.1.2.3 (from rebind.example) is private (RFC 1918)"; res.Error != want {
		t.Errorf("Error = %q, want %q", res.Error, want)
	}
}

func TestSendAllowPrivate(t *testing.T) {
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	s := newSender(t, sender.Options{
		ConnectTimeout: testConnectTimeout,
		TotalTimeout:   2 * time.Second,
		AllowPrivate:   true,
		Resolver: fakeResolver{
			"receiver.local":   {"127.0.0.1"},
			"metadata.example": {"169.254.169.254"},
			"aws6.example":     {"fd00:ec2::254"},
		},
	})

	allowed := []string{
		fmt.Sprintf("http://127.0.0.1:%d/", port),
		fmt.Sprintf("http://receiver.local:%d/", port),
		fmt.Sprintf("http://2130706433:%d/", port),
		fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", port),
	}
	for _, u := range allowed {
		if res := send(t, s, post(u)); !res.Success {
			t.Errorf("Send(%s) with AllowPrivate: %s: %s, want success", u, res.ErrorKind, res.Error)
		}
	}
	if got, want := hits.Load(), int32(len(allowed)); got != want {
		t.Errorf("receiver got %d requests, want %d", got, want)
	}

	// The metadata service stays out of reach.
	for _, u := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"http://[fd00:ec2::254]/latest/meta-data/",
		"http://[::ffff:169.254.169.254]/",
		"http://metadata.example/",
		"http://aws6.example/",
		"http://169.254.170.2/v2/credentials",
		"http://100.100.100.200/latest/meta-data/",
	} {
		res := send(t, s, post(u))
		wantFailure(t, res, herald.ErrKindBlocked, 0)
	}
}

func TestSendDNSError(t *testing.T) {
	s := newSender(t, sender.Options{Resolver: fakeResolver{"empty.example": {}}})
	for _, host := range []string{"nowhere.example", "empty.example"} {
		res := send(t, s, post("http://"+host+"/"))
		wantFailure(t, res, herald.ErrKindDNS, 0)
		if !strings.Contains(res.Error, host) {
			t.Errorf("Error = %q, want it to name %s", res.Error, host)
		}
		if strings.Contains(res.Error, "10.0.0.2") {
			t.Errorf("Error = %q names the DNS server", res.Error)
		}
	}
}

func TestSendInvalidURL(t *testing.T) {
	s := newSender(t, sender.Options{})
	for _, u := range []string{
		"",
		"ftp://example.com/",
		"example.com/hook",
		"http:///path",
		"http://exa mple.com/",
		"http://example.com:99999/",
		"javascript:alert(1)",
		"http://%zz/?token=s3cret",
	} {
		res := send(t, s, post(u))
		wantFailure(t, res, herald.ErrKindInvalidURL, 0)
		if strings.Contains(res.Error, "s3cret") {
			t.Errorf("Send(%q).Error = %q repeats the URL", u, res.Error)
		}
	}
}

func TestNewRejectsNegativeOptions(t *testing.T) {
	for _, opts := range []sender.Options{
		{ConnectTimeout: -1},
		{TotalTimeout: -1},
		{MaxResponseBody: -1},
	} {
		if _, err := sender.New(opts); err == nil {
			t.Errorf("New(%+v) = nil error, want one", opts)
		}
	}
}
