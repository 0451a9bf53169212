package delivery

import (
	"context"
	"sync"
	"time"

	"github.com/heraldhq/herald/shared/herald"
)

// WebhookTTL is how long a warm function reuses a webhook it read. Every
// attempt needs its webhook; reading it each time was a strongly consistent
// read per delivery. A change to a webhook (disabled, deleted, its URL or
// secret) reaches delivery within this time; ingest caches a project's
// webhooks for as long (docs/delivery.md).
const WebhookTTL = 5 * time.Second

// webhookCache keeps webhooks, and the fact that one does not exist, for a
// few seconds per warm function. Concurrent attempts on one webhook share
// one read.
type webhookCache struct {
	load func(ctx context.Context, project, id string) (*herald.Webhook, error)
	ttl  time.Duration

	mu      sync.Mutex
	entries map[string]*hookEntry
	// claims are health writes to a webhook that one attempt of this
	// instance has taken on (health.go), until when: the attempts of a
	// batch read the same cached webhook, and would each make the same
	// conditional write, billed even when its condition refuses it.
	claims map[string]time.Time
}

type hookEntry struct {
	done  chan struct{} // closed when hook and err are set
	hook  *herald.Webhook
	err   error
	until time.Time // guarded by webhookCache.mu
}

func newWebhookCache(load func(ctx context.Context, project, id string) (*herald.Webhook, error), ttl time.Duration) *webhookCache {
	return &webhookCache{load: load, ttl: ttl, entries: map[string]*hookEntry{}, claims: map[string]time.Time{}}
}

// get returns a webhook as it was read at most ttl ago; ENOTFOUND for one
// that did not exist then. Other errors are not kept.
func (c *webhookCache) get(ctx context.Context, project, id string, now time.Time) (*herald.Webhook, error) {
	k := project + "\x00" + id
	c.mu.Lock()
	e := c.entries[k]
	if e == nil || !e.until.IsZero() && now.After(e.until) {
		e = &hookEntry{done: make(chan struct{})}
		c.entries[k] = e
		c.mu.Unlock()
		e.hook, e.err = c.load(ctx, project, id)
		c.mu.Lock()
		if e.err != nil && herald.ErrorCode(e.err) != herald.ENOTFOUND {
			delete(c.entries, k) // an outage is not remembered
		} else {
			e.until = now.Add(c.ttl)
		}
		c.mu.Unlock()
		close(e.done)
	} else {
		c.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if e.err != nil {
		return nil, e.err
	}
	return e.hook, nil
}

// forget drops a webhook from the cache: delivery just changed it (its
// health mark, auto-disable), and its next attempt reads it as it is now.
func (c *webhookCache) forget(project, id string) {
	c.mu.Lock()
	delete(c.entries, project+"\x00"+id)
	c.mu.Unlock()
}

// claim takes on a health write (what) for this instance: true the first
// time, false while an earlier claim holds (twice the cache's lifetime, by
// when the webhook read again shows its outcome). release gives back a
// claim whose write failed, so that the next attempt makes it.
func (c *webhookCache) claim(what string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, until := range c.claims {
		if now.After(until) {
			delete(c.claims, k)
		}
	}
	if _, held := c.claims[what]; held {
		return false
	}
	c.claims[what] = now.Add(2 * c.ttl)
	return true
}

func (c *webhookCache) release(what string) {
	c.mu.Lock()
	delete(c.claims, what)
	c.mu.Unlock()
}
