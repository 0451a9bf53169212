package command

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
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

func TestSubcommands(t *testing.T) {
	var got []string
	run := Subcommands("tool", map[string]Run{"up": func(_ context.Context, args []string, _, _ io.Writer) error {
		got = args
		return nil
	}})
	for name, tc := range map[string]struct {
		args    []string
		err     error
		printed string
	}{
		"no command":      {nil, ErrUsage, "usage: tool up [flags]"},
		"unknown command": {[]string{"down"}, ErrUsage, `tool: unknown command "down"; want up`},
		"a command":       {[]string{"up", "-x"}, nil, ""},
	} {
		var stderr bytes.Buffer
		if err := run(context.Background(), tc.args, io.Discard, &stderr); !errors.Is(err, tc.err) || !strings.Contains(stderr.String(), tc.printed) {
			t.Errorf("%s: %v, printed %q; want %v, %q", name, err, stderr.String(), tc.err, tc.printed)
		}
	}
	if len(got) != 1 || got[0] != "-x" {
		t.Errorf("up ran with %q; want the arguments after its name", got)
	}
}

func TestParse(t *testing.T) {
	for name, tc := range map[string]struct {
		args  []string
		valid bool
		help  bool // the error is flag.ErrHelp too
		err   error
	}{
		"valid":        {[]string{"-n", "2"}, true, false, nil},
		"unknown flag": {[]string{"-x"}, true, false, ErrUsage},
		"stray":        {[]string{"-n", "2", "extra"}, true, true, ErrUsage},
		"invalid":      {[]string{"-n", "2"}, false, true, ErrUsage},
		"help":         {[]string{"-h"}, true, true, ErrUsage},
	} {
		fs := flag.NewFlagSet("tool", flag.ContinueOnError)
		n := fs.Int("n", 0, "a number")
		var stderr bytes.Buffer
		err := Parse(fs, tc.args, &stderr, func() bool { return tc.valid })
		if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) || errors.Is(err, flag.ErrHelp) != tc.help {
			t.Errorf("%s: got %v; want %v (help %v)", name, err, tc.err, tc.help)
		}
		if err == nil && *n != 2 {
			t.Errorf("%s: -n is %d; want 2", name, *n)
		}
		if err != nil && !strings.Contains(stderr.String(), "-n") {
			t.Errorf("%s: printed %q; want the usage", name, stderr.String())
		}
	}
}
