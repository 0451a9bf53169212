// Command herald-dev runs Herald's local stack without Docker.
//
//	herald-dev up                                  moto, the functions under the emulator, the gateway on 127.0.0.1:3000
//	herald-dev invoke -function FN -event FILE     one invocation against the running stack, like sam local invoke
//
// `make dev` and `make invoke` run it with the tools' paths set.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/heraldhq/herald/tools/command"
	"github.com/heraldhq/herald/tools/localstack"
)

func main() { command.Main("herald-dev", run) }

var errUsage = command.ErrUsage

var run = command.Subcommands("herald-dev", map[string]command.Run{"up": up, "invoke": invoke})

// invoke runs one function once against the running stack, as `sam local
// invoke --env-vars events/env.json` would, and prints its result.
func invoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("herald-dev invoke", flag.ContinueOnError)
	function := fs.String("function", "", "logical id of the function (IngestFunction, DeliveryFunction, ApiFunction; required)")
	eventPath := fs.String("event", "", "JSON event file, or - for standard input (required)")
	if err := command.Parse(fs, args, stderr, func() bool { return *function != "" && *eventPath != "" }); err != nil {
		return err
	}
	var payload []byte
	var err error
	if *eventPath == "-" {
		payload, err = io.ReadAll(os.Stdin)
	} else {
		payload, err = os.ReadFile(*eventPath)
	}
	if err != nil {
		return fmt.Errorf("read the event: %w", err)
	}
	root, err := localstack.RepoRoot()
	if err != nil {
		return err
	}
	opts := localstack.Options{Root: root, Logs: &functionLogs{out: stderr}}
	// A stack started on other ports says where its moto is (there is no
	// dev.env while none runs).
	if env, err := localstack.ReadDevEnv(localstack.DevEnvPath(root)); err == nil && env["HERALD_MOTO_URL"] != "" {
		opts.MotoURL = env["HERALD_MOTO_URL"]
	}
	out, err := localstack.InvokeOnce(ctx, opts, *function, payload)
	if len(out) > 0 {
		fmt.Fprintln(stdout, strings.TrimSpace(string(out)))
	}
	if errors.Is(err, localstack.ErrNotRunning) {
		return fmt.Errorf("%w\nstart it with `make dev` in another terminal, then run this again", err)
	}
	return err
}
