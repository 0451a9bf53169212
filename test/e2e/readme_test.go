package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/tools/localstack"
)

// readmeExamples returns the fenced code blocks of a README section, by
// language.
func readmeExamples(t *testing.T, heading string) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	start := strings.Index(text, "\n"+heading+"\n")
	if start < 0 {
		t.Fatalf("README.md has no section %q", heading)
	}
	section := text[start+len(heading)+2:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	blocks := map[string][]string{}
	for _, m := range regexp.MustCompile("(?s)```([a-z]*)\n(.*?)```").FindAllStringSubmatch(section, -1) {
		blocks[m[1]] = append(blocks[m[1]], m[2])
	}
	return blocks
}

// curlWrapper makes every curl of a shell example fail the script when curl
// fails (a URL it reads as a glob exits 3 with no output) or the API does
// not answer 2xx with JSON: as a new user would notice, but louder.
const curlWrapper = `set -euo pipefail
curl() {
  local out code
  out=$(command curl -w '\n%{http_code}' "$@") || { echo "curl (line $BASH_LINENO) exited $?" >&2; exit 1; }
  code=${out##*$'\n'}; out=${out%$'\n'*}
  case $code in 2??) ;; *) echo "curl (line $BASH_LINENO): HTTP $code: $out" >&2; exit 1;; esac
  printf '%s\n' "$out" | head -c 1 | grep -q '[{[]' || { echo "curl (line $BASH_LINENO): not JSON: $out" >&2; exit 1; }
  printf '%s\n' "$out"
}
`

// TestReadmeAPIExamples runs every command of the README's API examples
// against the local stack, as a new user would paste them: the DatoCMS
// client script with node, and each curl line with bash. A broken example
// (issue 10 found the list example silently failing: curl reads [...] in a
// URL as a glob) fails CI.
func TestReadmeAPIExamples(t *testing.T) {
	blocks := readmeExamples(t, "## The API, with examples")
	if len(blocks["js"]) != 1 || len(blocks["sh"]) != 1 {
		t.Fatalf("the section's examples changed (js %d, sh %d): update this test", len(blocks["js"]), len(blocks["sh"]))
	}
	e := startStack(t, localstack.Options{})

	// A failed call for the examples to find and resend: a webhook without
	// retries, to a receiver that answers 500.
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) }))
	defer rcv.Close()
	hook := e.createWebhook(t, map[string]any{"name": "failing", "url": rcv.URL + "/hook", "auto_retry": false})
	ids := callIDs(e.ingest(t, e.recordEvent(t, "publish", "evt-readme")))
	if len(ids) != 1 {
		t.Fatalf("ingest made %d calls; want 1", len(ids))
	}
	waitFor(t, "the call to fail", 20*time.Second, func() bool { return e.call(t, ids[0])["status"] == "failed" })
	env := map[string]string{"HERALD_API_URL": e.stack.APIURL, "HERALD_TOKEN": e.token}

	// The DatoCMS client example, as a module beside the client's packages.
	script := filepath.Join("..", "client", fmt.Sprintf("readme-%d.mjs", os.Getpid()))
	if err := os.WriteFile(script, []byte(blocks["js"][0]), 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(script)
	node(t, filepath.Base(script), env, nil)
	if attempts := e.call(t, ids[0])["attempts"].([]any); len(attempts) < 1 {
		t.Errorf("attempts %v", attempts)
	}
	waitFor(t, "the example's resend", 20*time.Second, func() bool {
		for _, a := range e.call(t, ids[0])["attempts"].([]any) {
			if a.(map[string]any)["trigger"] == "manual" {
				return true
			}
		}
		return false
	})
	status, list := e.api(t, "GET", "/webhooks", nil)
	found := false
	for _, w := range list["data"].([]any) {
		attrs := w.(map[string]any)["attributes"].(map[string]any)
		found = found || attrs["name"] == "Rebuild the site" && attrs["enabled"] == false
	}
	if status != 200 || !found {
		t.Errorf("after the client example: %d, webhooks %v; want 'Rebuild the site', disabled", status, list)
	}

	// The curl examples, with <id> the failing webhook.
	sh := strings.ReplaceAll(blocks["sh"][0], "<id>", hook)
	cmd := exec.Command("bash", "-c", curlWrapper+sh)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the README's curl examples: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{`"name":"Deploy"`, ids[0], "whsec_", `"event_type":"ping"`, `"type":"webhook_call_bulk_resend"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the curl examples printed nothing with %s:\n%s", want, out)
		}
	}
	var lastLine map[string]any
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &lastLine); err != nil {
		t.Errorf("the last example printed %q: %v", lines[len(lines)-1], err)
	}
}
