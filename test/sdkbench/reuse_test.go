package sdkbench_test

import (
	"context"
	"net/http/httptrace"
	"sync"
	"testing"
)

// TestConnectionsAreReused checks that, on a server that keeps connections
// alive (as AWS does; here the front before moto), every setup's clients
// make each call on the connection the previous call used. A client that
// dropped its connections would pay a TCP connect per call here, and a TLS
// handshake per call on AWS: far more CPU than anything the benchmarks
// compare.
func TestConnectionsAreReused(t *testing.T) {
	if testing.Short() {
		t.Skip("needs moto")
	}
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			f := newFixture(t, connKeepAlive)
			c, err := s.build(context.Background(), nil)
			if err != nil {
				t.Fatalf("build clients: %v", err)
			}
			var mu sync.Mutex
			fresh := map[bool]int{}
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
				mu.Lock()
				fresh[!i.Reused]++
				mu.Unlock()
			}})
			for _, op := range operations {
				for range 3 {
					if err := op.call(ctx, c, f); err != nil {
						t.Fatalf("%s: %v", op.name, err)
					}
				}
			}
			// One connection per service: DynamoDB's and SQS's. The SDK's
			// defaults also lose one now and then to the race between
			// smithy-go's body close and net/http that config.Tune works
			// around (docs/reliability.md): two more for them, far below the
			// one per call a client that drops its connections opens.
			want := 2
			if s.name == defaultSetup.name {
				want += 2
			}
			if got, calls := fresh[true], 3*len(operations); got > want {
				t.Errorf("%d of %d calls opened a connection; want at most %d (one per service), the others reusing them", got, calls, want)
			}
		})
	}
}

// TestBurstsReuseConnections checks that the tuned clients keep a
// connection for each of a burst's calls in flight (inFlight, as ingest and
// the sweep make), so that the next burst opens none: on AWS each would cost
// a TLS handshake. The SDK's default keeps 10 and fails this.
func TestBurstsReuseConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("needs moto")
	}
	tuned := tunedSetup
	f := newFixture(t, connTLS)
	c, err := tuned.build(context.Background(), nil)
	if err != nil {
		t.Fatalf("build clients: %v", err)
	}
	for round := range 3 {
		// Each call holds its connection until every call of the burst
		// has one, so that the burst needs inFlight connections at once.
		var mu sync.Mutex
		got, opened := 0, 0
		all := make(chan struct{})
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
			mu.Lock()
			if !i.Reused {
				opened++
			}
			got++
			if got == inFlight {
				close(all)
			}
			mu.Unlock()
			<-all
		}})
		getBurst(t, ctx, c, f)
		if round > 0 && opened > 0 {
			t.Errorf("burst %d opened %d connections; want every call on a kept one", round+1, opened)
		}
	}
}
