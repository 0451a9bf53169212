// Command herald-dev runs Herald's local stack without Docker.
//
//	herald-dev up                                  moto, the functions under the emulator, the gateway on 127.0.0.1:3000
//	herald-dev invoke -function FN -event FILE     one invocation against the running stack, like sam local invoke
//
// `make dev` and `make invoke` run it with the tools' paths set.
package main

import (
	"github.com/heraldhq/herald/tools/command"
)

func main() { command.Main("herald-dev", run) }

var errUsage = command.ErrUsage

var run = command.Subcommands("herald-dev", map[string]command.Run{"up": up, "invoke": invoke})
