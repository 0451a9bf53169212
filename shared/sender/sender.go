package sender

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/shared/herald"
)

// Request is one call attempt: a POST of Body to URL with exactly Header.
type Request struct {
	URL    string
	Header http.Header
	Body   []byte
}

// Result is what happened to a Request. A receiver that answered has a
// Status; ErrorKind and Error say why an attempt failed, and Success is true
// only for a 2xx whose body (up to the cap) arrived in time.
type Result struct {
	Status        int // 0 if no response arrived
	Header        http.Header
	Body          []byte // at most Options.MaxResponseBody bytes
	BodyTruncated bool
	// RetryAfter is a 429's or 503's Retry-After (seconds or an HTTP date,
	// relative to the clock); 0 if absent, invalid, past, or on any other
	// status.
	RetryAfter time.Duration
	Duration   time.Duration
	ErrorKind  string // a herald.ErrKind*, "" on success
	Error      string // short and safe to show the webhook's owner
	Success    bool
}

// Resolver looks up a host's addresses; *net.Resolver is one. Tests inject
// their own to map names to any address.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var _ Resolver = (*net.Resolver)(nil)

// Defaults, as DatoCMS times out (CONTRACT §3).
const (
	DefaultConnectTimeout = 2 * time.Second
	DefaultTotalTimeout   = 8 * time.Second
)

// Options configure a Sender; zero values take the defaults.
type Options struct {
	ConnectTimeout  time.Duration // per address tried; default 2s
	TotalTimeout    time.Duration // resolve to last body byte; default 8s
	MaxResponseBody int           // default herald.MaxStoredResponseBody
	// AllowPrivate lets calls reach loopback and private networks, for a
	// local stack. Never set it in a deployed stack.
	AllowPrivate bool
	Clock        herald.Clock   // default herald.SystemClock
	Resolver     Resolver       // default net.DefaultResolver
	RootCAs      *x509.CertPool // default the system roots
}

// Sender POSTs call attempts. It is safe for concurrent use; build one per
// process and reuse it, so that connections are kept alive between calls.
type Sender struct {
	opts      Options
	dialer    net.Dialer
	tlsConfig *tls.Config
	transport *http.Transport
	client    *http.Client
}

// New returns a Sender with opts, defaults filled in.
func New(opts Options) (*Sender, error) {
	if opts.ConnectTimeout < 0 || opts.TotalTimeout < 0 || opts.MaxResponseBody < 0 {
		return nil, fmt.Errorf("new sender: negative timeout or body limit")
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.TotalTimeout == 0 {
		opts.TotalTimeout = DefaultTotalTimeout
	}
	if opts.MaxResponseBody == 0 {
		opts.MaxResponseBody = herald.MaxStoredResponseBody
	}
	if opts.Clock == nil {
		opts.Clock = herald.SystemClock{}
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	s := &Sender{opts: opts}
	s.dialer = net.Dialer{Timeout: opts.ConnectTimeout, Control: s.control}
	s.tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: opts.RootCAs}
	s.transport = &http.Transport{
		// No proxy: a proxy would connect on our behalf, past the
		// address check.
		Proxy:          nil,
		DialContext:    s.dial,
		DialTLSContext: s.dialTLS,
		// HTTP/1.1 only: one POST per call gains nothing from HTTP/2.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
		// Without it net/http asks for gzip and inflates the answer
		// behind our back: the cap would apply to inflated bytes and the
		// stored headers would lie.
		DisableCompression:     true,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	s.client = &http.Client{
		Transport: s.transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return s, nil
}

// CloseIdleConnections closes kept-alive connections.
func (s *Sender) CloseIdleConnections() { s.transport.CloseIdleConnections() }

// Send POSTs req and reports what happened. It returns when the response
// body has been read up to the cap, or at TotalTimeout, whichever is first.
func (s *Sender) Send(ctx context.Context, req Request) Result {
	start := s.opts.Clock.Now()
	res := s.send(ctx, req, start)
	res.Duration = s.opts.Clock.Now().Sub(start)
	return res
}

func (s *Sender) send(ctx context.Context, req Request, start time.Time) Result {
	// The URL may carry credentials in its query: errors never repeat it.
	u, err := url.Parse(req.URL)
	switch {
	case err != nil:
		return failed(herald.ErrKindInvalidURL, "the URL does not parse")
	case u.Scheme != "http" && u.Scheme != "https":
		return failed(herald.ErrKindInvalidURL, "the URL scheme must be http or https")
	case u.Hostname() == "":
		return failed(herald.ErrKindInvalidURL, "the URL has no host")
	}
	if p := u.Port(); p != "" {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			return failed(herald.ErrKindInvalidURL, "the URL port is not 0 to 65535")
		}
	}

	reqCtx, cancel := context.WithTimeout(ctx, s.opts.TotalTimeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(reqCtx, http.MethodPost, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return failed(herald.ErrKindInvalidURL, "the URL cannot be requested")
	}
	if req.Header != nil {
		hr.Header = req.Header.Clone()
	}

	resp, err := s.client.Do(hr)
	if err != nil {
		kind, msg := s.describe(err, ctx, reqCtx, start, false)
		return failed(kind, msg)
	}
	// Closing before EOF makes net/http drop the connection instead of
	// draining what is left.
	defer resp.Body.Close()

	res := Result{Status: resp.StatusCode, Header: resp.Header}
	// Only a 429 or a 503 may push the next retry back (CONTRACT §4): a
	// Retry-After on a 500 must not turn a 2-minute retry into two days.
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		res.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), s.opts.Clock.Now())
	}
	limit := s.opts.MaxResponseBody
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if len(body) > limit {
		body, res.BodyTruncated = body[:limit], true
	}
	res.Body = body
	if err != nil {
		res.ErrorKind, res.Error = s.describe(err, ctx, reqCtx, start, true)
		return res
	}

	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		res.Success = true
	case code >= 300 && code < 400:
		res.ErrorKind = herald.ErrKindRedirect
		res.Error = fmt.Sprintf("redirect (%d) not followed", code)
		if loc := resp.Header.Get("Location"); loc != "" {
			res.Error = fmt.Sprintf("redirect (%d) to %s not followed", code, loc)
		}
	default:
		res.ErrorKind = herald.ErrKindHTTPStatus
		res.Error = fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
	}
	res.Error = shorten(res.Error)
	return res
}

func failed(kind, msg string) Result {
	return Result{ErrorKind: kind, Error: msg}
}

// dial connects to one of the addresses host resolves to, refusing any
// address the policy blocks. The check runs twice: here, to say which name
// led where, and in control, on the very address the socket connects to,
// which is what makes it hold whatever resolution did.
func (s *Sender) dial(ctx context.Context, network, address string) (net.Conn, error) {
	// net/http dials on a context detached from the request's deadline;
	// bound the whole dial (lookup, connects, TLS) so that it cannot outlive
	// the attempt.
	ctx, cancel := context.WithTimeout(ctx, s.opts.TotalTimeout)
	defer cancel()

	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", network, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("dial %s: port %q: %w", network, portText, err)
	}
	addrs, name := []netip.Addr(nil), ""
	if ip, ok := parseHostIP(host); ok {
		addrs = []netip.Addr{ip}
	} else {
		addrs, err = s.opts.Resolver.LookupNetIP(ctx, lookupNetwork(network), host)
		if err != nil {
			return nil, err
		}
		if len(addrs) == 0 {
			return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
		name = host
	}

	var first error
	for _, ip := range addrs {
		// Resolvers hand out IPv4 addresses in IPv6 form.
		if name != "" {
			ip = ip.Unmap()
		}
		var conn net.Conn
		if err = CheckAddr(ip, s.opts.AllowPrivate); err != nil {
			var be *BlockedError
			if errors.As(err, &be) {
				be.Host = name
			}
		} else {
			conn, err = s.dialer.DialContext(ctx, network, netip.AddrPortFrom(ip, uint16(port)).String())
			if err == nil {
				return conn, nil
			}
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// control runs on every socket before it connects, with the address it
// connects to.
func (s *Sender) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("connect %s %q: not an IP address and port", network, address)
	}
	return CheckAddr(ap.Addr(), s.opts.AllowPrivate)
}

// dialTLS is net/http's TLS dial, done here so that whatever goes wrong in
// TLS carries a type (*tlsError), even where crypto/tls reports it with an
// unexported one, as it does for alerts from the server.
func (s *Sender) dialTLS(ctx context.Context, network, address string) (net.Conn, error) {
	// One bound for the connect and the handshake together.
	ctx, cancel := context.WithTimeout(ctx, s.opts.TotalTimeout)
	defer cancel()
	conn, err := s.dial(ctx, network, address)
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		_ = conn.Close() // the dial failed; a close error adds nothing
		return nil, fmt.Errorf("tls dial %s: %w", address, err)
	}
	cfg := s.tlsConfig.Clone()
	cfg.ServerName = host
	// An address spelled "2130706433" is verified as the address it names,
	// as a browser would.
	if ip, ok := parseHostIP(host); ok {
		cfg.ServerName = ip.WithZone("").String()
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = conn.Close() // the handshake failed; a close error adds nothing
		return nil, &tlsError{err: err, handshake: true}
	}
	return tlsConn{tc}, nil
}

// tlsConn tags errors after the handshake too: TLS 1.3 delivers a server's
// alert (a client certificate required, say) on the first read.
type tlsConn struct{ *tls.Conn }

func (c tlsConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	return n, tagTLS(err)
}

func (c tlsConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	return n, tagTLS(err)
}

// tagTLS wraps err, except io.EOF, which readers compare by identity.
func tagTLS(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &tlsError{err: err}
}

// tlsError is an error from the TLS layer. It reads as the error it wraps,
// and classifies as tls only when nothing more precise (a timeout, a reset)
// does.
type tlsError struct {
	err       error
	handshake bool
}

func (e *tlsError) Error() string { return e.err.Error() }
func (e *tlsError) Unwrap() error { return e.err }

func lookupNetwork(network string) string {
	switch network {
	case "tcp4":
		return "ip4"
	case "tcp6":
		return "ip6"
	}
	return "ip"
}

// describe classifies a transport error (from the request, or from reading
// the body when inBody) into an error kind and a message safe to show.
func (s *Sender) describe(err error, parent, reqCtx context.Context, start time.Time, inBody bool) (kind, msg string) {
	var (
		blocked *BlockedError
		dnsErr  *net.DNSError
		netErr  net.Error
		recErr  tls.RecordHeaderError
		certErr *tls.CertificateVerificationError
		authErr x509.UnknownAuthorityError
		hostErr x509.HostnameError
		invErr  x509.CertificateInvalidError
		alert   tls.AlertError
		tlsErr  *tlsError
	)
	switch {
	case errors.As(err, &blocked):
		return herald.ErrKindBlocked, shorten(blocked.Error())
	case errors.As(err, &dnsErr):
		return herald.ErrKindDNS, shorten(fmt.Sprintf("cannot resolve %s: %s", dnsErr.Name, dnsErr.Err))
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		switch {
		case parent.Err() != nil: // the caller's deadline, not ours
			return herald.ErrKindTimeout, fmt.Sprintf("timed out after %s", s.opts.Clock.Now().Sub(start).Round(time.Millisecond))
		case reqCtx.Err() != nil:
			if inBody {
				return herald.ErrKindTimeout, fmt.Sprintf("timed out after %s reading the response body", s.opts.TotalTimeout)
			}
			return herald.ErrKindTimeout, fmt.Sprintf("timed out after %s", s.opts.TotalTimeout)
		default: // only the dialer has a deadline of its own
			return herald.ErrKindTimeout, fmt.Sprintf("connect timed out after %s", s.opts.ConnectTimeout)
		}
	case errors.Is(err, context.Canceled):
		return herald.ErrKindNetwork, "canceled"
	case errors.As(err, &recErr):
		return herald.ErrKindTLS, "tls: the server did not answer with TLS"
	case errors.As(err, &certErr):
		return herald.ErrKindTLS, shorten(certErr.Err.Error())
	case errors.As(err, &authErr), errors.As(err, &hostErr), errors.As(err, &invErr):
		return herald.ErrKindTLS, shorten("tls: " + safeText(err))
	case errors.As(err, &alert):
		return herald.ErrKindTLS, shorten(alert.Error())
	case errors.Is(err, syscall.ECONNREFUSED):
		return herald.ErrKindRefused, "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return herald.ErrKindReset, "connection reset by peer"
	case errors.Is(err, syscall.EPIPE):
		return herald.ErrKindReset, "connection closed by peer while sending"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		if inBody {
			return herald.ErrKindReset, "connection closed during the response body"
		}
		return herald.ErrKindReset, "connection closed before a response"
	case errors.As(err, &tlsErr):
		if tlsErr.handshake {
			return herald.ErrKindTLS, shorten("tls handshake failed: " + safeText(tlsErr.err))
		}
		return herald.ErrKindTLS, shorten(safeText(tlsErr.err))
	}
	return herald.ErrKindNetwork, shorten(safeText(err))
}

// safeText is err's text with the wrappers that name addresses and URLs
// (*url.Error, *net.OpError: ours, the receiver's, a query string's
// credentials) replaced by what they wrap.
func safeText(err error) string {
	text := err.Error()
	for e := err; e != nil; e = errors.Unwrap(e) {
		var inner error
		switch w := e.(type) {
		case *url.Error:
			inner = w.Err
		case *net.OpError:
			inner = w.Err
		}
		if inner != nil {
			text = strings.Replace(text, e.Error(), inner.Error(), 1)
		}
	}
	return text
}

// shorten caps a message (a receiver's Location header can be long) at a
// rune boundary.
func shorten(s string) string {
	const max = 300
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// retryAfter reads a Retry-After value: delay seconds, or an HTTP date
// taken relative to now.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		if n > math.MaxInt64/uint64(time.Second) {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	if d := t.Sub(now); d > 0 {
		return d
	}
	return 0
}
