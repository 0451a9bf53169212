package localstack

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testFunction is the bootstrap built from testdata/testfn for this run.
var testFunction string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "localstack-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testFunction = filepath.Join(dir, "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", testFunction, "./testdata/testfn")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the test function: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// hostBuild lays out a host-build directory where each named function's
// bootstrap is the test function.
func hostBuild(t *testing.T, functions ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, fn := range functions {
		if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(testFunction, filepath.Join(dir, fn, "bootstrap")); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// testLogs sends what processes print to the test log, so that a failing
// test shows it (go test -v shows it always).
type testLogs struct{ t *testing.T }

func (w testLogs) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Logf("%s", b)
	return len(b), nil
}

// startStack starts a stack for a test with the test function standing in
// for the named functions, and stops it when the test ends.
func startStack(t *testing.T, opts Options) *Stack {
	t.Helper()
	if opts.HostBuild == "" {
		opts.HostBuild = hostBuild(t, opts.Functions...)
	}
	if opts.Functions == nil {
		opts.Functions = []string{}
	}
	if opts.Logs == nil {
		opts.Logs = testLogs{t}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("start the local stack: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// recording is what the test function appended to its record file.
type recording struct {
	Function   string          `json:"function"`
	PID        int             `json:"pid"`
	Invocation int             `json:"invocation"`
	Input      json.RawMessage `json:"input"`
}

func readRecord(t *testing.T, path string) []recording {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []recording
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r recording
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("record line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// eventually retries cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
