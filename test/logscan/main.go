// Command logscan searches the logs a test run kept (testenv.LogDir) for the
// secrets its tests registered (testenv.Secret) and for anything shaped like
// a Herald API token or signing secret. `make test` runs it after the tests:
//
//	go run ./test/logscan .herald/test-logs
//
// It fails when a secret is found, and also when there is nothing to check
// (no log or no registered secret): a scan of nothing proves nothing.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/heraldhq/herald/test/testenv"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: logscan <log directory>")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "logscan:", err)
		os.Exit(1)
	}
}

func run(dir string, out io.Writer) error {
	secrets, err := readSecrets(filepath.Join(dir, testenv.SecretsFile))
	if err != nil {
		return err
	}
	var logs []string
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error { // #nosec G703 -- walking the directory named on the command line is the point
		if err != nil {
			return err
		}
		if !d.IsDir() && filepath.Base(path) != testenv.SecretsFile {
			logs = append(logs, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(secrets) == 0 || len(logs) == 0 {
		return fmt.Errorf("nothing to check in %s: %d secrets registered, %d logs kept", dir, len(secrets), len(logs))
	}
	var found []testenv.Finding
	var bytes int64
	for _, path := range logs {
		fs, err := testenv.ScanFile(path, secrets)
		if err != nil {
			return err
		}
		found = append(found, fs...)
		if st, err := os.Stat(path); err == nil {
			bytes += st.Size()
		}
	}
	for _, f := range found {
		fmt.Fprintln(out, "secret in a log:", f)
	}
	if len(found) > 0 {
		return fmt.Errorf("%d secrets found in the logs of %s", len(found), dir)
	}
	fmt.Fprintf(out, "logscan: %d logs (%d bytes) searched for %d registered secrets and every token or signing-secret shape: none found\n",
		len(logs), bytes, len(secrets))
	return nil
}

func readSecrets(path string) ([]string, error) {
	f, err := os.Open(path) // #nosec G304 G703 -- the secrets file of the log directory named on the command line
	if err != nil {
		return nil, fmt.Errorf("read the registered secrets: %w", err)
	}
	defer f.Close()
	seen := map[string]bool{}
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := strings.TrimRight(sc.Text(), "\r"); s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, sc.Err()
}
