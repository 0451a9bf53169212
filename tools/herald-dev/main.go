// Command herald-dev runs Herald's local stack without Docker.
//
//	herald-dev up                                  moto, the functions under the emulator, the gateway on 127.0.0.1:3000
//	herald-dev invoke -function FN -event FILE     one invocation against the running stack, like sam local invoke
//
// `make dev` and `make invoke` run it with the tools' paths set.
package main

import (
	"context"
	"fmt"
	"io"

	"github.com/heraldhq/herald/tools/command"
)

func main() { command.Main("herald-dev", run) }

var errUsage = command.ErrUsage

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: herald-dev up [flags] | herald-dev invoke -function <LogicalId> -event <file>")
		return errUsage
	}
	switch args[0] {
	case "up":
		return up(ctx, args[1:], stdout, stderr)
	case "invoke":
		return invoke(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "herald-dev: unknown command %q; want up or invoke\n", args[0])
	return errUsage
}
