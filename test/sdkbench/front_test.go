package sdkbench_test

import (
	"bufio"
	"cmp"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/test/testenv"
)

// moto's server (Werkzeug) answers every request with "Connection: close",
// so a client of moto opens a TCP connection per call, which a client of AWS
// does not: AWS keeps connections alive, and the SDK's transport reuses
// them. To measure what a call costs the client as it talks to AWS, the
// benchmarks can go through a front: this test binary, run again as a
// reverse proxy in another process, that keeps its clients' connections
// alive (or, to measure a connection per call, closes them) and serves
// plain HTTP or TLS. It opens moto's connections itself. Its CPU, like
// moto's, is not this process's.

// A conn is how a benchmark's clients reach moto.
type conn string

const (
	connClose     conn = "close"     // moto itself: a TCP connection per call
	connKeepAlive conn = "keepalive" // front, HTTP, connections kept alive
	connTLS       conn = "tls"       // front, HTTPS, kept alive: AWS with a warm pool
	connTLSNew    conn = "tls-new"   // front, HTTPS, a connection per call: AWS with no idle connection
)

// Environment of the test binary run as a front.
const (
	frontEnv      = "HERALD_SDKBENCH_FRONT_FOR" // moto's URL
	frontTLSEnv   = "HERALD_SDKBENCH_FRONT_TLS" // certificate and key files, "cert:key"
	frontCloseEnv = "HERALD_SDKBENCH_FRONT_CLOSE"
	// The address to listen on; a free port on 127.0.0.1 if unset. Set,
	// it lets the front stand in for moto before a tool that starts moto
	// itself (make cost): see docs/performance.md.
	frontAddrEnv = "HERALD_SDKBENCH_FRONT_ADDR"
)

var fronts struct {
	mu    sync.Mutex
	urls  map[conn]string
	cmds  []*exec.Cmd
	dir   string // the certificate's
	certs string // "cert:key"
}

// endpoint returns the URL the clients use for c, starting its front on
// first use, and the CA bundle they must trust ("" for plain HTTP).
func endpoint(tb testing.TB, c conn) (u, caBundle string) {
	tb.Helper()
	m := testenv.Moto(tb)
	if c == connClose {
		return m.URL, ""
	}
	fronts.mu.Lock()
	defer fronts.mu.Unlock()
	if fronts.urls == nil {
		fronts.urls = map[conn]string{}
	}
	secure := c == connTLS || c == connTLSNew
	if secure && fronts.certs == "" {
		dir, err := os.MkdirTemp("", "sdkbench-tls")
		if err != nil {
			tb.Fatal(err)
		}
		fronts.dir = dir
		if fronts.certs, err = writeCertificate(dir); err != nil {
			tb.Fatalf("TLS certificate: %v", err)
		}
	}
	if u, ok := fronts.urls[c]; ok {
		return u, certFile(secure)
	}
	env := []string{frontEnv + "=" + m.URL}
	if secure {
		env = append(env, frontTLSEnv+"="+fronts.certs)
	}
	if c == connTLSNew {
		env = append(env, frontCloseEnv+"=1")
	}
	u, cmd, err := startFront(env)
	if err != nil {
		tb.Fatalf("start the %s front: %v", c, err)
	}
	fronts.urls[c] = u
	fronts.cmds = append(fronts.cmds, cmd)
	return u, certFile(secure)
}

func certFile(secure bool) string {
	if !secure {
		return ""
	}
	return strings.SplitN(fronts.certs, ":", 2)[0]
}

func stopFronts() {
	fronts.mu.Lock()
	defer fronts.mu.Unlock()
	for _, cmd := range fronts.cmds {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	if fronts.dir != "" {
		_ = os.RemoveAll(fronts.dir)
	}
}

func startFront(env []string) (string, *exec.Cmd, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$") // #nosec G204 -- this test binary, run again as the front
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, fmt.Errorf("front stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start front: %w", err)
	}
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addr <- strings.TrimSpace(line)
	}()
	select {
	case a := <-addr:
		if !strings.HasPrefix(a, "http") {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return "", nil, fmt.Errorf("front said %q; want its URL", a)
		}
		return a, cmd, nil
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return "", nil, fmt.Errorf("front did not start in 10 s")
	}
}

// serveFront is the front's main: it prints its URL and serves until killed.
func serveFront(target string) int {
	u, err := url.Parse(target)
	if err != nil {
		fmt.Fprintln(os.Stderr, "front:", err)
		return 1
	}
	addr := os.Getenv(frontAddrEnv)
	addr = cmp.Or(addr, "127.0.0.1:0")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "front:", err)
		return 1
	}
	var h http.Handler = httputil.NewSingleHostReverseProxy(u)
	if os.Getenv(frontCloseEnv) != "" {
		proxy := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			proxy.ServeHTTP(w, r)
		})
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		// HTTP/1.1 only, as DynamoDB's and SQS's endpoints speak it: the
		// SDK's transport would otherwise take HTTP/2 and put every call
		// on one connection.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
	if certs := os.Getenv(frontTLSEnv); certs != "" {
		cert, key, _ := strings.Cut(certs, ":")
		fmt.Printf("https://%s\n", ln.Addr())
		err = srv.ServeTLS(ln, cert, key)
	} else {
		fmt.Printf("http://%s\n", ln.Addr())
		err = srv.Serve(ln)
	}
	fmt.Fprintln(os.Stderr, "front:", err)
	return 1
}

// writeCertificate writes a self-signed certificate for 127.0.0.1 with an
// RSA 2048 key, the kind DynamoDB's and SQS's certificates have, and
// returns "cert:key" file names.
func writeCertificate(dir string) (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sdkbench front"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", err
	}
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return "", err
	}
	return certPath + ":" + keyPath, nil
}
