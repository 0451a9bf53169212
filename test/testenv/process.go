package testenv

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/tools/localstack"
)

// Bootstraps returns where the three functions' host bootstraps are: `make
// test` builds them first (HERALD_HOST_BUILD); run alone, a test builds them
// from this checkout, so the stack runs the code as it is now.
func Bootstraps(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("HERALD_HOST_BUILD"); dir != "" {
		return dir
	}
	root, err := localstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for fn, id := range map[string]string{"api": localstack.APIFunction, "ingest": localstack.IngestFunction, "delivery": localstack.DeliveryFunction} {
		// #nosec G204 -- go build of this checkout's functions, with fixed arguments
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", filepath.Join(dir, id, "bootstrap"), "./functions/"+fn)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", fn, err, out)
		}
	}
	return dir
}

// RunLogged runs cmd, logging each line it prints as it comes, and returns
// all of it.
func RunLogged(t testing.TB, cmd *exec.Cmd) (string, error) {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var all []byte
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			t.Log(sc.Text())
			all = append(append(all, sc.Bytes()...), '\n')
		}
	}()
	err := cmd.Run()
	_ = pw.Close() // a pipe's writer: Close never fails
	<-done
	return string(all), err
}
