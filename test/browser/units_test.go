// Package browser_test runs the admin page's JavaScript tests: the unit
// tests of its pure functions (units.test.mjs) with node's test runner, and
// the whole page in Debian's headless Chromium against the local stack
// (admin.mjs).
package browser_test

import (
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

var nodeCount = regexp.MustCompile(`(?m)^# (pass|fail) (\d+)$`)

func TestAdminPageUnits(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed for the admin page's tests: %v", err)
	}
	out, err := exec.Command(node, "--test", "units.test.mjs").CombinedOutput()
	t.Logf("node --test units.test.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("node --test: %v", err)
	}
	counts := map[string]int{}
	for _, m := range nodeCount.FindAllStringSubmatch(string(out), -1) {
		counts[m[1]], _ = strconv.Atoi(m[2])
	}
	if counts["pass"] < 4 || counts["fail"] != 0 {
		t.Errorf("got %d passed, %d failed; want every unit test to pass", counts["pass"], counts["fail"])
	}
}
