package sdkbench_test

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/test/benchkit"
)

// This machine's other work moves CPU-per-call figures by 20 % from one
// run to the next, more than most settings change them. The interleaved
// benchmarks compare variants within one run instead: each iteration is a
// round in which every variant makes a block of calls, in an order that
// rotates, so that the machine's load falls on all of them alike. Each
// variant's figure is a metric named after it.

const callsPerBlock = 20

// BenchmarkSDKOfflineInterleaved compares the SDK's own work per call
// (responses replayed, as in BenchmarkSDKOffline) under the default, the
// tuned and every candidate setup.
func BenchmarkSDKOfflineInterleaved(b *testing.B) {
	all := append([]setup{defaultSetup, tunedSetup}, candidates...)
	for _, op := range operations {
		b.Run("op="+op.name, func(b *testing.B) {
			f := newFixture(b, connClose)
			ctx := context.Background()
			cs := make([]clients, len(all))
			for i, s := range all {
				rec := &replayClient{next: awshttp.NewBuildableClient()}
				c, err := s.build(ctx, rec)
				if err != nil {
					b.Fatalf("%s: build clients: %v", s.name, err)
				}
				if err := op.call(ctx, c, f); err != nil {
					b.Fatalf("%s: recorded %s: %v", s.name, op.name, err)
				}
				if err := rec.replay(); err != nil {
					b.Fatalf("%s: %v", s.name, err)
				}
				cs[i] = c
			}
			names := make([]string, len(all))
			for i, s := range all {
				names[i] = s.name
			}
			interleave(b, names, callsPerBlock, func(i int) {
				for range callsPerBlock {
					if err := op.call(ctx, cs[i], f); err != nil {
						b.Fatalf("%s: %s: %v", all[i].name, op.name, err)
					}
				}
			})
		})
	}
}

// BenchmarkRuntimeInterleaved compares the Go runtime settings a function
// could be given in its environment (GOGC, GOMAXPROCS), on calls over kept
// connections with the tuned clients, switching them between blocks.
func BenchmarkRuntimeInterleaved(b *testing.B) {
	type knobs struct {
		name  string
		gogc  int
		procs int
	}
	variants := []knobs{
		{"GOGC=100,GOMAXPROCS=2", 100, 2},
		{"GOGC=400,GOMAXPROCS=2", 400, 2},
		{"GOGC=100,GOMAXPROCS=1", 100, 1},
		{"GOGC=400,GOMAXPROCS=1", 400, 1},
	}
	names := make([]string, len(variants))
	for i, v := range variants {
		names[i] = v.name
	}
	for _, op := range []operation{getItem, putItem, sendBatch1} {
		b.Run("op="+op.name+"/conn=keepalive/config=tuned", func(b *testing.B) {
			f := newFixture(b, connKeepAlive)
			ctx := context.Background()
			c, err := tunedSetup.build(ctx, nil)
			if err != nil {
				b.Fatalf("build clients: %v", err)
			}
			if err := op.call(ctx, c, f); err != nil {
				b.Fatalf("first %s: %v", op.name, err)
			}
			defer debug.SetGCPercent(debug.SetGCPercent(100))
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
			interleave(b, names, callsPerBlock, func(i int) {
				debug.SetGCPercent(variants[i].gogc)
				runtime.GOMAXPROCS(variants[i].procs)
				for range callsPerBlock {
					if err := op.call(ctx, c, f); err != nil {
						b.Fatalf("%s: %v", op.name, err)
					}
				}
			})
		})
	}
}

// BenchmarkBeforeAfter compares, for each operation and connection kind,
// the functions' clients and runtime as they were (the SDK's defaults, Go's
// GOGC=100 and two Ps) with shared/config's tuning: Tune and the per-service
// options, and TuneRuntime's one P and GOGC=400 (switched between blocks).
func BenchmarkBeforeAfter(b *testing.B) {
	type variant struct {
		name  string
		setup setup
		gogc  int
		procs int
	}
	variants := []variant{
		{"before", defaultSetup, 100, 2},
		{"after", tunedSetup, config.GCPercent, 1},
	}
	names := []string{variants[0].name, variants[1].name}
	for _, op := range operations {
		for _, conn := range []conn{connClose, connKeepAlive, connTLS} {
			b.Run("op="+op.name+"/conn="+string(conn), func(b *testing.B) {
				f := newFixture(b, conn)
				ctx := context.Background()
				cs := make([]clients, len(variants))
				for i, v := range variants {
					c, err := v.setup.build(ctx, nil)
					if err != nil {
						b.Fatalf("%s: build clients: %v", v.name, err)
					}
					if err := op.call(ctx, c, f); err != nil {
						b.Fatalf("%s: first %s: %v", v.name, op.name, err)
					}
					cs[i] = c
				}
				defer debug.SetGCPercent(debug.SetGCPercent(100))
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
				// A SendMessageBatch of 10 takes moto 0.2 s.
				n := callsPerBlock
				if op.name == sendBatch10.name {
					n = 4
				}
				interleave(b, names, n, func(i int) {
					debug.SetGCPercent(variants[i].gogc)
					runtime.GOMAXPROCS(variants[i].procs)
					for range n {
						if err := op.call(ctx, cs[i], f); err != nil {
							b.Fatalf("%s: %s: %v", variants[i].name, op.name, err)
						}
					}
				})
			})
		}
	}
}

// interleave runs block(i), which makes n calls, for every variant i once
// per iteration, in a rotating order, and reports each variant's CPU per
// call as "<name>-cpu-ms/call".
func interleave(b *testing.B, names []string, n int, block func(i int)) {
	b.Helper()
	sums := make([]time.Duration, len(names))
	round := 0
	for b.Loop() {
		for k := range names {
			i := (round + k) % len(names)
			cpu0 := benchkit.ProcessCPU()
			block(i)
			sums[i] += benchkit.ProcessCPU() - cpu0
		}
		round++
	}
	for i, name := range names {
		b.ReportMetric(float64(sums[i])/float64(time.Millisecond)/float64(b.N*n), name+"-cpu-ms/call")
	}
}
