package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/heraldhq/herald/shared/delivery"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/sender"
	"github.com/heraldhq/herald/shared/signing"
	"github.com/heraldhq/herald/shared/sqs"
	"github.com/heraldhq/herald/test/testenv"
)

// Delivery's security tests (docs/security.md): SSRF with the sender's guard
// on, as every deployed stack runs it, and header injection through what a
// call renders.

// names resolves the names it holds, as a DNS server under an attacker's
// control would: to any address.
type names map[string][]string

func (n names) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := n[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		out[i] = netip.MustParseAddr(a)
	}
	return out, nil
}

// guarded returns a delivery handler over the fixture's table and queue
// whose sender refuses private targets (AllowPrivate off, as deployed), with
// the resolver given (nil: the system's).
func (f *fixture) guarded(t *testing.T, resolver sender.Resolver) *delivery.Handler {
	t.Helper()
	opts := sender.Options{Clock: f.clock, ConnectTimeout: time.Second, TotalTimeout: 3 * time.Second}
	if resolver != nil {
		opts.Resolver = resolver
	}
	s, err := sender.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(testenv.LogWriter(t, "guarded"), nil))
	return delivery.New(delivery.Deps{Store: f.store, Queue: sqs.New(f.env.SQS, f.env.QueueURL), Sender: s, Clock: f.clock, Log: log})
}

// useWebhook makes a webhook with the URL the fixture's webhook: it must
// pass validation, since the guard works when connecting, not when saving.
func (f *fixture) useWebhook(t *testing.T, name, rawURL string, edit func(*herald.Webhook)) {
	t.Helper()
	in := herald.WebhookInput{
		Name: herald.Some(name), URL: herald.Some(rawURL), CustomPayload: herald.Some[*string](nil),
		Headers:       herald.Some(map[string]string{}),
		Events:        herald.Some([]herald.Trigger{{EntityType: "item", EventTypes: []string{"update"}}}),
		HTTPBasicUser: herald.Some[*string](nil), HTTPBasicPassword: herald.Some[*string](nil),
	}
	w, err := herald.NewWebhook("p1", herald.NewID(f.clock.Now()), in, f.clock.Now())
	if err != nil {
		t.Fatalf("webhook URL %s is refused when saved (%v); the guard is meant to work at connect time", rawURL, err)
	}
	w.Secret.Current = signing.NewSecret()
	if edit != nil {
		edit(w)
	}
	if err := f.store.CreateWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	f.hook = w
}

// deliverWith runs one first attempt of c through h.
func (f *fixture) deliverWith(t *testing.T, h *delivery.Handler, c *herald.Call) {
	t.Helper()
	if _, err := h.HandleSQS(context.Background(), events.SQSEvent{Records: []events.SQSMessage{message(first(c))}}); err != nil {
		t.Fatalf("HandleSQS: %v", err)
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lastAttempt is the call's newest attempt, as the activity log shows it.
func (f *fixture) lastAttempt(t *testing.T, id string) herald.Attempt {
	t.Helper()
	c := f.call(t, id)
	if len(c.Attempts) == 0 {
		t.Fatalf("call %s has no attempt", id)
	}
	return c.Attempts[len(c.Attempts)-1]
}

// TestSSRFTargetsAreBlocked sends calls to private, loopback, link-local and
// metadata targets in every notation, with the guard on: each webhook saves
// (the URL is valid), each attempt is refused before connecting, the call
// records the address and why, and a live receiver on loopback gets nothing.
func TestSSRFTargetsAreBlocked(t *testing.T) {
	f := newFixture(t, nil)
	var hits atomic.Int32
	f.rcv.setRespond(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	port := f.rcv.Listener.Addr().(*net.TCPAddr).Port
	local := func(host string) string { return fmt.Sprintf("http://%s:%d/hook", host, port) }
	attacker := names{
		"internal.example": {"10.1.2.3"},
		"loopback.example": {"127.0.0.1"},
		"v6loop.example":   {"::1"},
		"metadata.example": {"169.254.169.254"},
		"aws6.example":     {"fd00:ec2::254"},
		"mapped.example":   {"::ffff:192.168.0.1"},
		"cgnat.example":    {"100.100.0.1"},
	}
	withNames := f.guarded(t, attacker)
	system := f.guarded(t, nil)

	tests := []struct {
		h      *delivery.Handler
		url    string
		addr   string // the address the call's error names
		reason string // and the words that say why
	}{
		{withNames, local("127.0.0.1"), "127.0.0.1", "loopback"},
		{withNames, local("[::1]"), "::1", "loopback"},
		{withNames, local("[0:0:0:0:0:0:0:1]"), "::1", "loopback"},
		{withNames, local("[::ffff:127.0.0.1]"), "::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.1, which is loopback"},
		{withNames, local("[::ffff:7f00:1]"), "::ffff:127.0.0.1", "IPv4-mapped"},
		{withNames, local("2130706433"), "127.0.0.1", "loopback"},
		{withNames, local("0177.0.0.1"), "127.0.0.1", "loopback"},
		{withNames, local("0177.0000.0000.0001"), "127.0.0.1", "loopback"},
		{withNames, local("0x7f000001"), "127.0.0.1", "loopback"},
		{withNames, local("0x7f.0.0.1"), "127.0.0.1", "loopback"},
		{withNames, local("127.1"), "127.0.0.1", "loopback"},
		{withNames, local("127.0.1"), "127.0.0.1", "loopback"},
		{withNames, local("127.0.0.1."), "127.0.0.1", "loopback"},
		{withNames, local("0.0.0.0"), "0.0.0.0", "unspecified"},
		{withNames, local("0"), "0.0.0.0", "unspecified"},
		{withNames, local("[::]"), "::", "unspecified"},
		{withNames, "http://169.254.169.254/latest/meta-data/iam/", "169.254.169.254", "metadata"},
		{withNames, "http://2852039166/latest/meta-data/", "169.254.169.254", "metadata"},
		{withNames, "http://0251.0376.0251.0376/latest/meta-data/", "169.254.169.254", "metadata"},
		{withNames, "http://169.254.170.2/v2/credentials", "169.254.170.2", "link-local"},
		{withNames, "http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254", "metadata"},
		{withNames, "http://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254", "metadata"},
		{withNames, "http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254"},
		{withNames, "http://[2002:a9fe:a9fe::1]/", "2002:a9fe:a9fe::1", "6to4 form of 169.254.169.254"},
		{withNames, "http://[fd12:3456:789a::1]/", "fd12:3456:789a::1", "unique local"},
		{withNames, "http://[fe80::1%25eth0]/", "fe80::1", "link-local"},
		{withNames, "http://100.64.0.1/", "100.64.0.1", "CGNAT"},
		{withNames, "http://100.127.255.254/", "100.127.255.254", "CGNAT"},
		{withNames, "http://10.0.0.5/", "10.0.0.5", "private"},
		{withNames, "http://172.16.0.1/", "172.16.0.1", "private"},
		{withNames, "http://192.168.1.1/", "192.168.1.1", "private"},
		{withNames, "https://192.168.1.1/", "192.168.1.1", "private"},
		{withNames, "http://internal.example/", "10.1.2.3", "(from internal.example) is private"},
		{withNames, "https://internal.example/", "10.1.2.3", "(from internal.example) is private"},
		{withNames, local("loopback.example"), "127.0.0.1", "(from loopback.example) is loopback"},
		{withNames, local("v6loop.example"), "::1", "(from v6loop.example) is loopback"},
		{withNames, "http://metadata.example/", "169.254.169.254", "(from metadata.example) is the cloud metadata service"},
		{withNames, "http://aws6.example/", "fd00:ec2::254", "(from aws6.example) is the cloud metadata service"},
		{withNames, "http://mapped.example/", "192.168.0.1", "(from mapped.example) is private"},
		{withNames, "http://cgnat.example/", "100.100.0.1", "CGNAT"},
		{system, local("localhost"), "", "loopback"},
		{system, local("LOCALHOST"), "", "loopback"},
	}
	for i, tc := range tests {
		f.useWebhook(t, fmt.Sprintf("ssrf %d", i), tc.url, nil)
		c := f.newCall(t)
		f.deliverWith(t, tc.h, c)
		a := f.lastAttempt(t, c.ID)
		if a.Success || a.ErrorKind != herald.ErrKindBlocked || a.ResponseStatus != nil {
			t.Errorf("%s: attempt %s %q, want it blocked", tc.url, a.ErrorKind, a.Error)
			continue
		}
		if !strings.HasPrefix(a.Error, "address "+tc.addr) || !strings.Contains(a.Error, tc.reason) {
			t.Errorf("%s: the call says %q, want the address %s and %q", tc.url, a.Error, tc.addr, tc.reason)
		}
		if rec := f.call(t, c.ID); rec.Status != herald.StatusRescheduled || rec.NextRetryAt == nil {
			t.Errorf("%s: call %s, want it rescheduled like any failure (the address may change)", tc.url, rec.Status)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback receiver got %d requests with the guard on, want 0", n)
	}
}

// TestRedirectsAreNotFollowed: a receiver that answers with a redirect to a
// metadata address or to another receiver gets the call recorded as a
// failed redirect; nothing follows it.
func TestRedirectsAreNotFollowed(t *testing.T) {
	f := newFixture(t, nil) // private targets allowed: the receivers are on loopback
	var inner atomic.Int32
	target := newReceiver(t)
	target.setRespond(func(w http.ResponseWriter, r *http.Request) { inner.Add(1) })
	for _, tc := range []struct {
		status   int
		location string
	}{
		{http.StatusFound, "http://169.254.169.254/latest/meta-data/iam/security-credentials/"},
		{http.StatusTemporaryRedirect, target.URL + "/internal"},
		{http.StatusPermanentRedirect, "http://[::1]:1/"},
		{http.StatusSeeOther, "http://2130706433/"},
	} {
		f.rcv.setRespond(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", tc.location)
			w.WriteHeader(tc.status)
		})
		c := f.newCall(t)
		f.deliver(t, first(c))
		a := f.lastAttempt(t, c.ID)
		if a.Success || a.ErrorKind != herald.ErrKindRedirect || a.ResponseStatus == nil || *a.ResponseStatus != tc.status ||
			!strings.Contains(a.Error, "not followed") {
			t.Errorf("redirect %d to %s: attempt %+v, want a failed redirect, not followed", tc.status, tc.location, a)
		}
	}
	if n := inner.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests, want 0", n)
	}
}

// TestHeaderInjectionIsNeutralised: values a call renders or stored settings
// that hold CR or LF never add a header or change the request line.
func TestHeaderInjectionIsNeutralised(t *testing.T) {
	f := newFixture(t, nil)
	base := f.rcv.URL
	const evil = "x\r\nX-Injected: 1\r\n\r\nGET /smuggled HTTP/1.1"
	entity := mustJSON(t, map[string]any{"id": "1", "type": "item", "attributes": map[string]any{"name": evil}})

	// An escaped tag puts the value in the path, percent-encoded.
	f.useWebhook(t, "escaped tag", base+"/in/{{entity.attributes.name}}", nil)
	c := f.callWithEntity(t, entity)
	f.deliver(t, first(c))
	got := f.rcv.got()
	if len(got) != 1 || got[0].header.Get("X-Injected") != "" || got[0].path != "/in/"+evil {
		t.Errorf("escaped tag: receiver got %d requests, the last with path %q and X-Injected %q", len(got), lastPath(got), lastHeader(got, "X-Injected"))
	}

	// A raw tag that renders CR or LF into the URL fails to render.
	for i, tmpl := range []string{base + "/in/{{{entity.attributes.name}}}", base + "/in/{{&entity.attributes.name}}"} {
		f.useWebhook(t, fmt.Sprintf("raw tag %d", i), tmpl, nil)
		c := f.callWithEntity(t, entity)
		f.deliver(t, first(c))
		if a := f.lastAttempt(t, c.ID); a.Success || a.ErrorKind != herald.ErrKindInvalidURL {
			t.Errorf("raw tag %s: attempt %s %q, want invalid_url", tmpl, a.ErrorKind, a.Error)
		}
	}

	// Settings stored past validation (written by an older version, or by
	// hand) still cannot split the request: the HTTP client refuses them.
	f.useWebhook(t, "stored header", base+"/stored", func(w *herald.Webhook) { w.Headers = map[string]string{"X-Team": evil} })
	c = f.newCall(t)
	f.deliver(t, first(c))
	if a := f.lastAttempt(t, c.ID); a.Success {
		t.Errorf("a header value with CRLF was sent")
	}
	user, password := "deploy", evil
	f.useWebhook(t, "stored password", base+"/basic", func(w *herald.Webhook) { w.HTTPBasicUser, w.HTTPBasicPassword = &user, &password })
	c = f.newCall(t)
	f.deliver(t, first(c))

	got = f.rcv.got()
	for _, r := range got {
		if r.header.Get("X-Injected") != "" || strings.Contains(r.path, "smuggled") && r.path != "/in/"+evil {
			t.Errorf("request %s carries an injected header or a smuggled request", r.path)
		}
	}
	if len(got) != 2 || got[1].path != "/basic" || !strings.HasPrefix(got[1].header.Get("Authorization"), "Basic ") {
		t.Errorf("the basic-auth call: receiver got %d requests", len(got))
	}
}

// callWithEntity writes a pending call of the fixture's webhook whose
// entity is the JSON given.
func (f *fixture) callWithEntity(t *testing.T, entity json.RawMessage) *herald.Call {
	t.Helper()
	now := f.clock.Now().Truncate(time.Millisecond)
	ev := &herald.Event{ProjectID: "p1", EventID: "evt-" + herald.NewID(now), Environment: "main", IsEnvironmentPrimary: true,
		EntityType: "item", EventType: "update", EventTriggeredAt: start, Entity: entity}
	c := herald.NewCall(herald.NewID(now), f.hook, ev, now, 24*time.Hour)
	if _, err := f.store.CreateCall(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func lastPath(rs []received) string {
	if len(rs) == 0 {
		return ""
	}
	return rs[len(rs)-1].path
}

func lastHeader(rs []received, name string) string {
	if len(rs) == 0 {
		return ""
	}
	return rs[len(rs)-1].header.Get(name)
}
