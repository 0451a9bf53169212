package sender_test

import (
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/sender"
)

// fullListener returns the address of a socket that listens with a backlog
// of zero and never accepts, its queue already taken by one connection: Linux
// drops further SYNs, so a connect hangs, as it does to a host that is down.
func fullListener(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	filler, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("fill the accept queue: %v", err)
	}
	t.Cleanup(func() { filler.Close() })
	return addr
}

func TestSendConnectTimeout(t *testing.T) {
	addr := fullListener(t)
	s := newSender(t, sender.Options{
		ConnectTimeout: 200 * time.Millisecond,
		TotalTimeout:   5 * time.Second,
		AllowPrivate:   true,
	})
	res := send(t, s, post("http://"+addr+"/"))
	wantFailure(t, res, herald.ErrKindTimeout, 0)
	if want := "connect timed out after 200ms"; res.Error != want {
		t.Errorf("Error = %q, want %q", res.Error, want)
	}
	if res.Duration >= 5*time.Second {
		t.Errorf("Duration = %v, want the connect timeout to end it, not the 5s total", res.Duration)
	}
}
