package localstack

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// Moto is a moto server: DynamoDB and SQS over real HTTP, in memory.
type Moto struct {
	URL  string
	proc *Process
}

// StartMoto starts a moto server on 127.0.0.1 at port (0 picks a free one):
// the one the Makefile installs (moto_server with DynamoDB requests
// serialised, tools/moto/herald_moto.py), $HERALD_MOTO_SERVER if set.
func StartMoto(ctx context.Context, port int, logs io.Writer) (*Moto, error) {
	bin, err := repoPath("HERALD_MOTO_SERVER", "moto_server", ".venv", "moto", "bin", "herald-moto")
	if err != nil {
		return nil, err
	}
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port)) // #nosec G204 -- bin is the developer's moto_server (HERALD_MOTO_SERVER)
	proc, err := startProcess(ctx, "moto", cmd, logs, addr, time.Minute)
	if err != nil {
		return nil, err
	}
	return &Moto{URL: "http://" + addr, proc: proc}, nil
}

// Stop stops the server; its data goes with it.
func (m *Moto) Stop() {
	if m != nil {
		m.proc.Stop()
	}
}

// Env is the environment that points the AWS SDK at this server.
func (m *Moto) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB": m.URL,
		"AWS_ENDPOINT_URL_SQS":      m.URL,
		"AWS_REGION":                "us-east-1",
		"AWS_ACCESS_KEY_ID":         "local",
		"AWS_SECRET_ACCESS_KEY":     "local",
	}
}

// RepoRoot is the directory holding go.mod, found from the working directory up.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// repoPath is $env if set, else parts joined under the repository root. A
// tool (named for the error) must be there: `make tools` installs it.
func repoPath(env, tool string, parts ...string) (string, error) {
	if p := os.Getenv(env); p != "" {
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(append([]string{root}, parts...)...)
	if _, err := os.Stat(p); tool != "" && err != nil {
		return "", fmt.Errorf("%s not found at %s: run `make tools` (make test and make dev do it)", tool, p)
	}
	return p, nil
}
