// Package command runs the main of each of Herald's tools the same way:
// under a context that Ctrl-C and SIGTERM end, with one exit code for each
// kind of ending.
package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// ErrUsage is a mistake in how a tool was called, whose reason the tool
// has already written to stderr.
var ErrUsage = errors.New("usage")

// ErrFailed is a run that failed its own checks and has said so.
var ErrFailed = errors.New("the run failed its checks")

// Run is a tool's body.
type Run func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Main runs run with the command line and exits: 0 when it returns nil, 2
// for ErrUsage or flag.ErrHelp, 1 for ErrFailed, and 1 for any other error,
// written to stderr after the tool's name.
func Main(name string, run Run) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(Code(name, err, os.Stderr))
}

// Code is the exit code for what a run returned; it writes the error to
// stderr when the run has not reported it.
func Code(name string, err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrUsage), errors.Is(err, flag.ErrHelp):
		return 2
	case errors.Is(err, ErrFailed):
		return 1
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}

// Parse parses a tool's flags, fs writing to stderr. A flag it cannot parse,
// an argument after the flags or a valid (nil: any) that returns false is
// a usage error once fs has shown why: ErrUsage, with flag.ErrHelp for the
// last two so that they exit 2 like -h.
func Parse(fs *flag.FlagSet, args []string, stderr io.Writer, valid func() bool) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 || (valid != nil && !valid()) {
		fs.Usage()
		return fmt.Errorf("%w: %w", ErrUsage, flag.ErrHelp)
	}
	return nil
}

// Subcommands is a tool whose first argument names what it does: it runs
// that command with the rest, or says which commands there are.
func Subcommands(name string, commands map[string]Run) Run {
	names := strings.Join(slices.Sorted(maps.Keys(commands)), " | ")
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		if len(args) == 0 {
			fmt.Fprintf(stderr, "usage: %s %s [flags]   (-h after a command for its flags)\n", name, names)
			return ErrUsage
		}
		run, ok := commands[args[0]]
		if !ok {
			fmt.Fprintf(stderr, "%s: unknown command %q; want %s\n", name, args[0], names)
			return ErrUsage
		}
		return run(ctx, args[1:], stdout, stderr)
	}
}
