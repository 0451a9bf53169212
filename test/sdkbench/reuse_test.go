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
			// One connection per service: DynamoDB's and SQS's.
			if got, calls := fresh[true], 3*len(operations); got > 2 {
				t.Errorf("%d of %d calls opened a connection; want 2 (one per service), the others reusing them", got, calls)
			}
		})
	}
}
