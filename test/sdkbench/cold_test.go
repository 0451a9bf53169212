package sdkbench_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/test/benchkit"
)

// The cold path, as a Lambda function's init and first invocation take it:
// load the configuration, build the clients, make the first calls (a TLS
// handshake each, the signing key derived, the first rules evaluated).

// BenchmarkColdClients builds the configuration and both clients again on
// each iteration, in a warm process: what init's SDK setup costs once the
// process's own start is paid.
func BenchmarkColdClients(b *testing.B) {
	for _, s := range setups {
		b.Run("config="+s.name, func(b *testing.B) {
			newFixture(b, connTLS)
			ctx := context.Background()
			b.ReportAllocs()
			cpu0 := benchkit.ProcessCPU()
			for b.Loop() {
				c, err := s.build(ctx, nil)
				if err != nil || c.db == nil || c.q == nil {
					b.Fatalf("build clients: %v", err)
				}
			}
			reportMS(b, benchkit.ProcessCPU()-cpu0, "cpu-ms/op")
		})
	}
}

// Environment of the test binary run as a cold function.
const (
	coldEnv      = "HERALD_SDKBENCH_COLD" // the setup's name
	coldTableEnv = "HERALD_SDKBENCH_COLD_TABLE"
	coldQueueEnv = "HERALD_SDKBENCH_COLD_QUEUE"
)

// coldStages are what the cold process reports, in order.
var coldStages = []string{"process", "config+clients", "first-GetItem", "first-SendMessageBatch", "second-GetItem"}

// BenchmarkColdProcess starts a new process per iteration (this test
// binary, as a cold function) that loads the configuration, builds the
// clients and makes its first calls over TLS, and reports the CPU of each
// stage: process is the runtime's and package initialisation's until main
// (this test binary's, larger than a function's bootstrap).
func BenchmarkColdProcess(b *testing.B) {
	for _, s := range setups {
		b.Run("conn=tls/config="+s.name, func(b *testing.B) {
			f := newFixture(b, connTLS)
			sums := make([]time.Duration, len(coldStages))
			for b.Loop() {
				cmd := exec.Command(os.Args[0], "-test.run=^$") // #nosec G204 -- this test binary, run again as a cold function
				cmd.Env = append(os.Environ(), coldEnv+"="+s.name, coldTableEnv+"="+f.table, coldQueueEnv+"="+f.queueURL)
				cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
				var out, errOut bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errOut
				if err := cmd.Run(); err != nil {
					b.Fatalf("cold process: %v\n%s", err, errOut.String())
				}
				fields := strings.Fields(out.String())
				if len(fields) != len(coldStages) {
					b.Fatalf("cold process said %q; want %d figures", out.String(), len(coldStages))
				}
				for i, v := range fields {
					ns, err := strconv.ParseInt(v, 10, 64)
					if err != nil {
						b.Fatalf("cold process said %q: %v", out.String(), err)
					}
					sums[i] += time.Duration(ns)
				}
			}
			for i, name := range coldStages {
				reportMS(b, sums[i], name+"-cpu-ms")
			}
		})
	}
}

// coldMain is the cold function's main: it prints the CPU used by each of
// coldStages, in nanoseconds.
func coldMain(name string) int {
	start := benchkit.ProcessCPU()
	if name == "tuned" {
		// As a tuned function's main does first.
		config.TuneRuntime(os.Getenv)
	}
	var s *setup
	for i := range setups {
		if setups[i].name == name {
			s = &setups[i]
		}
	}
	if s == nil {
		fmt.Fprintf(os.Stderr, "cold: no setup %q\n", name)
		return 1
	}
	ctx := context.Background()
	f := fixture{table: os.Getenv(coldTableEnv), queueURL: os.Getenv(coldQueueEnv)}
	marks := []time.Duration{start}
	c, err := s.build(ctx, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cold: build clients:", err)
		return 1
	}
	marks = append(marks, benchkit.ProcessCPU())
	for _, op := range []operation{getItem, sendBatch1, getItem} {
		if err := op.call(ctx, c, f); err != nil {
			fmt.Fprintf(os.Stderr, "cold: %s: %v\n", op.name, err)
			return 1
		}
		marks = append(marks, benchkit.ProcessCPU())
	}
	figures := []string{strconv.FormatInt(int64(start), 10)}
	for i := 1; i < len(marks); i++ {
		figures = append(figures, strconv.FormatInt(int64(marks[i]-marks[i-1]), 10))
	}
	fmt.Println(strings.Join(figures, " "))
	return 0
}
