package command

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"testing"
)

func TestCode(t *testing.T) {
	for name, tc := range map[string]struct {
		err     error
		code    int
		printed string
	}{
		"success":     {nil, 0, ""},
		"usage":       {fmt.Errorf("parse: %w", ErrUsage), 2, ""},
		"help":        {flag.ErrHelp, 2, ""},
		"failed":      {ErrFailed, 1, ""},
		"other error": {errors.New("no moto"), 1, "tool: no moto\n"},
	} {
		var stderr bytes.Buffer
		if got := Code("tool", tc.err, &stderr); got != tc.code || stderr.String() != tc.printed {
			t.Errorf("%s: exit %d, printed %q; want %d, %q", name, got, stderr.String(), tc.code, tc.printed)
		}
	}
}
