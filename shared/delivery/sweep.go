package delivery

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/heraldhq/herald/shared/guard"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/metrics"
)

// sweepAhead is how far ahead the sweeper looks for parked retries. With a
// sweep a minute, every parked retry is queued at least once, with its exact
// delay, before it is due.
const sweepAhead = 14 * time.Minute

// A sweep's work is bounded, so that an invocation never runs into its
// timeout half way through a page (which would queue that page again next
// time): at most maxSweepRetries retries, read sweepPage at a time from each
// due shard in parallel, sent ten per SendMessageBatch and unparked
// sweepParallel at a time; and it starts no page with less than sweepMargin
// of the invocation left. On AWS's latencies (about 10 ms a batch send, 5 ms
// an update) a full sweep takes a few seconds: a backlog of 20,000 retries
// due in the same minute is on the queue within two sweeps
// (TestSweepWorksOffABacklog).
const (
	maxSweepRetries = 10000
	sweepPage       = 500
	sweepParallel   = 16
	sweepMargin     = 5 * time.Second
)

// Sweep moves parked retries that are due within sweepAhead onto the queue,
// each with the delay that makes it arrive on time. It returns how many it
// queued.
//
// Each sweep writes SweepBacklog (the retries it found already due) and
// SweepLag (how late the most overdue was, in seconds), 0 when none was:
// a sweep that keeps up shows zeros, one that stops shows nothing, which
// the lag alarm treats as breaching (docs/operations.md).
func (h *Handler) Sweep(ctx context.Context) (int, error) {
	until := h.clock.Now().Add(sweepAhead)
	var budget, queued atomic.Int64
	budget.Store(maxSweepRetries)
	var late lateness
	g, gctx := errgroup.WithContext(ctx)
	for shard := range h.store.DueShards() {
		g.Go(guard.Func(func() error {
			n, err := h.sweepShard(gctx, shard, until, &budget, &late)
			queued.Add(int64(n))
			return err
		}))
	}
	err := g.Wait()
	if n := queued.Load(); n > 0 {
		h.log.InfoContext(ctx, "sweep", "queued", n, "overdue", late.count.Load(), "lag_s", late.worst())
	}
	if err == nil {
		h.upgrade(ctx)
	}
	h.metrics.Count(metrics.SweepBacklog, "", float64(late.count.Load()))
	h.metrics.Observe(metrics.SweepLag, late.worst())
	if ferr := h.metrics.Flush(h.clock.Now()); ferr != nil {
		h.log.ErrorContext(ctx, "could not write metrics", "error", ferr)
	}
	return int(queued.Load()), err
}

// upgradeItems bounds the items one sweep's upgrade step scans: about a
// thousand read units, once, per sweep, until the table is done.
const upgradeItems = 20000

// upgrade runs a step of the store's upgrade after a deploy (moving what
// older versions wrote, dynamo/upgrade.go) with what is left of the sweep's
// time. Its errors are logged: the next sweep goes on from where it was.
func (h *Handler) upgrade(ctx context.Context) {
	if h.upgraded.Load() {
		return
	}
	p, err := h.store.Upgrade(ctx, upgradeItems, sweepMargin)
	if err != nil {
		h.log.ErrorContext(ctx, "upgrade step failed", "error", err)
		return
	}
	if p.Scanned > 0 {
		h.log.InfoContext(ctx, "upgrade step", "scanned", p.Scanned, "calls_moved", p.Calls, "tokens_listed", p.Tokens, "done", p.Done)
	}
	h.upgraded.Store(p.Done)
}

// lateness counts the retries a sweep found overdue and keeps the worst.
type lateness struct {
	count atomic.Int64
	ms    atomic.Int64 // the most overdue, in milliseconds
}

func (l *lateness) add(overdue time.Duration) {
	l.count.Add(1)
	for cur := l.ms.Load(); overdue.Milliseconds() > cur && !l.ms.CompareAndSwap(cur, overdue.Milliseconds()); cur = l.ms.Load() {
	}
}

func (l *lateness) worst() float64 { return float64(l.ms.Load()) / 1000 }

// sweepShard works through one due shard page by page, while the budget and
// the invocation's time last.
func (h *Handler) sweepShard(ctx context.Context, shard int, until time.Time, budget *atomic.Int64, late *lateness) (int, error) {
	queued := 0
	var after *herald.ParkedRetry
	for {
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < sweepMargin {
			return queued, nil
		}
		want := min(int64(sweepPage), budget.Load())
		if want <= 0 {
			return queued, nil
		}
		page, err := h.store.DueRetries(ctx, shard, until, after, int(want))
		if err != nil || len(page) == 0 {
			return queued, err
		}
		// Take this page's share of the budget; another shard may have
		// taken some meanwhile.
		if left := budget.Add(-int64(len(page))); left < 0 {
			page = page[:max(0, len(page)+int(left))]
			budget.Store(0)
			if len(page) == 0 {
				return queued, nil
			}
		}
		n, err := h.queueParked(ctx, page, late)
		queued += n
		if err != nil {
			return queued, err
		}
		after = &page[len(page)-1]
	}
}

// queueParked sends a page of parked retries, ten per batch, and unparks
// each batch once it is on the queue.
func (h *Handler) queueParked(ctx context.Context, page []herald.ParkedRetry, late *lateness) (int, error) {
	var queued atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(sweepParallel)
	for start := 0; start < len(page); start += 10 {
		batch := page[start:min(start+10, len(page))]
		g.Go(guard.Func(func() error {
			now := h.clock.Now()
			jobs := make([]herald.DelayedJob, len(batch))
			for i, r := range batch {
				if overdue := now.Sub(r.Due); overdue > 0 {
					late.add(overdue)
				}
				jobs[i] = herald.DelayedJob{
					Job:   herald.Job{ProjectID: r.ProjectID, CallID: r.CallID, Trigger: herald.TriggerAuto, Retry: r.Retry},
					Delay: r.Due.Sub(now),
				}
			}
			if err := h.queue.SendDelayed(gctx, jobs); err != nil {
				return fmt.Errorf("queue parked retries: %w", err)
			}
			queued.Add(int64(len(batch)))
			for _, r := range batch {
				// Were this to fail, the retry stays parked and the next
				// sweep queues it again; the claim drops the copy.
				if err := h.store.Unpark(gctx, r); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	err := g.Wait()
	return int(queued.Load()), err
}
