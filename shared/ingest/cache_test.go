package ingest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/herald"
)

// TestMatcherCacheConcurrentUse is issue 10's third defect: the cache wrote
// an entry's expiry inside once.Do, without the lock, while other events
// of the project read it under the lock. `make test` runs this package
// under the race detector, which reports that write; the test also checks
// the cache still shares one read among concurrent events and reloads after
// the TTL.
func TestMatcherCacheConcurrentUse(t *testing.T) {
	c := &matcherCache{ttl: time.Second, entries: map[string]*matcherEntry{}}
	var loads atomic.Int64
	load := func(context.Context, string) ([]*herald.Webhook, error) {
		loads.Add(1)
		time.Sleep(time.Millisecond) // so that events of one project overlap
		return nil, nil
	}
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				// Every goroutine walks the same clock: entries expire
				// while others are reading them.
				now := t0.Add(time.Duration(i) * 400 * time.Millisecond)
				project := []string{"p1", "p2"}[g%2]
				if _, err := c.get(context.Background(), project, now, load); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// 50 steps of 0.4 s is 20 s: each project needs a reload about every
	// second, never one per event.
	if n := loads.Load(); n < 2*10 || n > 2*50*4 {
		t.Errorf("%d loads for 2 projects over 20 s with a 1 s TTL", n)
	}
}
