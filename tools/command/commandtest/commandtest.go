// Package commandtest checks, in a tool's tests, what package command
// promises its callers.
package commandtest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/heraldhq/herald/tools/command"
)

// UsageErrors runs each call (its arguments, by what it gets wrong) and
// wants a usage error that tells the user on stderr how to call the tool.
func UsageErrors(t *testing.T, run command.Run, calls map[string][]string) {
	t.Helper()
	for name, args := range calls {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, &stdout, &stderr); !errors.Is(err, command.ErrUsage) {
			t.Errorf("%s: got %v, want a usage error", name, err)
		}
		if stderr.Len() == 0 {
			t.Errorf("%s: nothing told the user how to call it", name)
		}
	}
}
