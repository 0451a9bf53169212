package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/heraldhq/herald/shared/herald"
)

// matcherCache keeps each project's matcher for a few seconds per warm
// function.
type matcherCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	entries map[string]*matcherEntry
}

type matcherEntry struct {
	once    sync.Once
	matcher *herald.Matcher // set in once, read after it
	err     error           // set in once, read after it
	until   time.Time       // guarded by matcherCache.mu
}

func (c *matcherCache) get(ctx context.Context, project string, now time.Time, load func(context.Context, string) ([]*herald.Webhook, error)) (*herald.Matcher, error) {
	c.mu.Lock()
	e := c.entries[project]
	if e == nil || (!e.until.IsZero() && now.After(e.until)) {
		e = &matcherEntry{}
		c.entries[project] = e
	}
	c.mu.Unlock()
	// Concurrent events of one project share one read.
	e.once.Do(func() {
		hooks, err := load(ctx, project)
		if err != nil {
			e.err = err
			return
		}
		e.matcher = herald.NewMatcher(hooks)
		// until is read under the lock by events that find the entry,
		// without going through once: it is written under it too.
		c.mu.Lock()
		e.until = now.Add(c.ttl)
		c.mu.Unlock()
	})
	if e.err != nil {
		c.mu.Lock()
		if c.entries[project] == e {
			delete(c.entries, project) // do not cache failures
		}
		c.mu.Unlock()
		return nil, e.err
	}
	return e.matcher, nil
}
