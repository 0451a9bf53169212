package testenv

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/signing"
)

// LogDirEnv names the directory where the test suite keeps every log its
// tests capture, and the secrets they used (SecretsFile). `make test` sets it
// and then runs test/logscan over it: no secret may appear in any log.
const LogDirEnv = "HERALD_TEST_LOG_DIR"

// SecretsFile is the file of LogDir where Secret records each secret, one
// per line.
const SecretsFile = "secrets.txt"

// secretPatterns find Herald's own credentials by their shape, whether a
// test registered them or not: API tokens and signing secrets.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(regexp.QuoteMeta(herald.TokenPrefix) + `[A-Za-z0-9_-]{43}`),
	regexp.MustCompile(regexp.QuoteMeta(signing.SecretPrefix) + `[A-Za-z0-9+/]{20,}`),
}

var secrets struct {
	mu   sync.Mutex
	list []string
}

// LogDir is where the suite keeps logs, "" when no one asked.
func LogDir() string { return os.Getenv(LogDirEnv) }

// Secret registers a secret a test uses (a password, a token, a signing
// secret, an Authorization value) and returns it: every log captured with
// LogWriter, here and in the suite's log directory, is searched for it.
func Secret(t testing.TB, s string) string {
	t.Helper()
	if len(s) < 8 || strings.ContainsAny(s, "\r\n") {
		t.Fatalf("testenv.Secret: a secret to search logs for must be one line of at least 8 bytes, not %q", s)
	}
	secrets.mu.Lock()
	secrets.list = append(secrets.list, s)
	secrets.mu.Unlock()
	if dir := LogDir(); dir != "" {
		f, err := openLog(dir, SecretsFile)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// LogWriter returns a writer for the logs of what a test runs (a handler's
// slog output, a stack's function logs), kept in a file named for the test
// and name: in the suite's log directory when set, else in a temporary one.
// When the test ends, what the file holds is searched for every registered secret and
// every token- or secret-shaped string, and the test fails on a match.
// Create it before the servers that write to it, so it outlives them.
func LogWriter(t testing.TB, name string) io.Writer {
	t.Helper()
	dir := LogDir()
	if dir == "" {
		dir = t.TempDir()
	}
	file := fmt.Sprintf("%s.%s.%d.log", fileSafe(t.Name()), fileSafe(name), os.Getpid())
	path := filepath.Join(dir, file)
	f, err := openLog(dir, file)
	if err != nil {
		t.Fatal(err)
	}
	w := &syncFile{f: f}
	t.Cleanup(func() {
		findings, err := ScanFile(path, registeredSecrets())
		if err != nil {
			t.Errorf("scan %s: %v", path, err)
		}
		for _, fd := range findings {
			t.Errorf("a secret is in the logs: %s", fd)
		}
	})
	return w
}

// openLog opens a file of a log directory for appending, creating both.
func openLog(dir, name string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600) // #nosec G304 -- a fixed or test-named file in the suite's log directory
}

func registeredSecrets() []string {
	secrets.mu.Lock()
	defer secrets.mu.Unlock()
	return append([]string(nil), secrets.list...)
}

// Finding is one secret found in a log, shown without the secret itself.
type Finding struct {
	File   string
	Line   int
	Secret string // masked
}

func (f Finding) String() string { return fmt.Sprintf("%s:%d: %s", f.File, f.Line, f.Secret) }

// ScanFile searches a log for the secrets and for anything shaped like a
// Herald token or signing secret.
func ScanFile(path string, secrets []string) ([]Finding, error) {
	f, err := os.Open(path) // #nosec G304 -- a log file of the test suite
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Finding
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		for _, s := range secrets {
			if strings.Contains(line, s) {
				out = append(out, Finding{path, n, Mask(s)})
			}
		}
		for _, re := range secretPatterns {
			for _, m := range re.FindAllString(line, -1) {
				out = append(out, Finding{path, n, Mask(m)})
			}
		}
	}
	return out, sc.Err()
}

// Mask shows enough of a secret to tell which it was.
func Mask(s string) string {
	if len(s) <= 8 {
		return "****"
	}
	return s[:6] + "…(" + fmt.Sprint(len(s)) + " bytes)"
}

func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}

// syncFile serializes writes. It stays open after its test: a server that
// outlives the test still writes there, where the suite's scan finds it.
type syncFile struct {
	mu sync.Mutex
	f  *os.File
}

func (s *syncFile) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Write(p)
}

// Buffer is a bytes.Buffer that many goroutines may write at once, for a
// test that reads what a stack's processes or a receiver printed.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Logger returns a JSON logger for a handler under test, and the Buffer it
// also writes to, for the test to read; every line is kept in the test's
// log file too (LogWriter).
func Logger(t testing.TB, name string) (*slog.Logger, *Buffer) {
	buf := &Buffer{}
	return slog.New(slog.NewJSONHandler(io.MultiWriter(LogWriter(t, name), buf), nil)), buf
}
