package sender

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"
)

// TestControl checks the connect-time hook on its own: it is what holds
// whatever a resolver answered, so it must refuse by itself.
func TestControl(t *testing.T) {
	strict, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	private, err := New(Options{AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		s       *Sender
		address string
		blocked bool
	}{
		{strict, "127.0.0.1:80", true},
		{strict, "10.1.2.3:443", true},
		{strict, "[::1]:80", true},
		{strict, "[::ffff:10.0.0.1]:80", true},
		{strict, "[fd00:ec2::254]:80", true},
		{strict, "169.254.169.254:80", true},
		{strict, "8.8.8.8:443", false},
		{strict, "[2606:4700:4700::1111]:443", false},
		{private, "127.0.0.1:80", false},
		{private, "10.1.2.3:443", false},
		{private, "169.254.169.254:80", true},
		{private, "[fd00:ec2::254]:80", true},
		{strict, "not-an-address", true},
	}
	for _, tc := range tests {
		err := tc.s.control("tcp", tc.address, nil)
		if got := err != nil; got != tc.blocked {
			t.Errorf("control(%s, allowPrivate=%v) = %v, want blocked %v", tc.address, tc.s.opts.AllowPrivate, err, tc.blocked)
		}
		var be *BlockedError
		if tc.blocked && tc.address != "not-an-address" && !errors.As(err, &be) {
			t.Errorf("control(%s) = %v, want a *BlockedError", tc.address, err)
		}
	}
}

func TestSafeText(t *testing.T) {
	op := &net.OpError{
		Op:     "read",
		Net:    "tcp",
		Source: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 99), Port: 51234},
		Addr:   &net.TCPAddr{IP: net.IPv4(203, 0, 113, 5), Port: 443},
		Err:    os.NewSyscallError("read", syscall.EHOSTUNREACH),
	}
	err := &url.Error{
		Op:  "Post",
		URL: "https://receiver.example/hook?token=s3cret",
		Err: fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", op),
	}
	got := safeText(err)
	want := "net/http: HTTP/1.x transport connection broken: read: no route to host"
	if got != want {
		t.Errorf("safeText = %q, want %q", got, want)
	}
}

func TestShorten(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	got := shorten(long)
	if !utf8.ValidString(got) {
		t.Errorf("shorten cut a rune: %q", got)
	}
	if want := strings.Repeat("é", 150) + "…"; got != want {
		t.Errorf("shorten = %q, want %q", got, want)
	}
	if got := shorten("short"); got != "short" {
		t.Errorf("shorten(short) = %q", got)
	}
}
