package sdkbench_test

import (
	"context"
	"net/http/httptrace"
	"sync/atomic"
	"testing"

	"github.com/heraldhq/herald/test/benchkit"
)

// inFlight is how many calls ingest makes at once for one event (its
// errgroup limit) and the sweep makes: more than the 10 idle connections
// the SDK keeps to a host by default.
const inFlight = 16

// BenchmarkSDKConcurrent makes inFlight GetItem calls at once per
// iteration, over TLS, as ingest's fan-out and the sweep do on AWS. A
// client that keeps fewer idle connections than it has calls in flight
// closes the extra ones after each burst and opens them again, with a TLS
// handshake, in the next. cpu-ms/call is CPU per call; conns/call the
// connections opened per call.
func BenchmarkSDKConcurrent(b *testing.B) {
	for _, s := range setups {
		b.Run("op=GetItem/conn=tls/config="+s.name, func(b *testing.B) {
			f := newFixture(b, connTLS)
			c, err := s.build(context.Background(), nil)
			if err != nil {
				b.Fatalf("build clients: %v", err)
			}
			var opened atomic.Int64
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
				if !i.Reused {
					opened.Add(1)
				}
			}})
			burst := func() { getBurst(b, ctx, c, f) }
			burst() // opens the connections a warm function has
			opened.Store(0)
			b.ReportAllocs()
			cpu0 := benchkit.ProcessCPU()
			for b.Loop() {
				burst()
			}
			cpu := benchkit.ProcessCPU() - cpu0
			reportMS(b, cpu/inFlight, "cpu-ms/call")
			b.ReportMetric(float64(opened.Load())/float64(b.N*inFlight), "conns/call")
		})
	}
}
