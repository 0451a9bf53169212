package delivery_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/heraldhq/herald/shared/delivery"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/test/testenv"
)

// parkedIndex is the due-retries index in memory: what the sweep reads and
// unparks, per shard, in due order. It counts what the sweep asks of it.
type parkedIndex struct {
	delivery.Store // the sweep uses only the methods below
	mu             sync.Mutex
	shards         [][]herald.ParkedRetry // in due order
	unparked       map[string]bool        // by key
	inFlight       atomic.Int32
	maxInFlight    atomic.Int32
	upgradeSteps   int // how many steps the table's upgrade takes; 0: none to do
	upgradeCalls   int
}

// Upgrade reports the table's upgrade done after upgradeSteps calls.
func (p *parkedIndex) Upgrade(context.Context, int, time.Duration) (herald.UpgradeProgress, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.upgradeCalls++
	return herald.UpgradeProgress{Done: p.upgradeCalls >= p.upgradeSteps, Scanned: 1}, nil
}

func (p *parkedIndex) DueShards() int { return len(p.shards) }

func (p *parkedIndex) DueRetries(_ context.Context, shard int, until time.Time, after *herald.ParkedRetry, limit int) ([]herald.ParkedRetry, error) {
	n := p.inFlight.Add(1)
	defer p.inFlight.Add(-1)
	for m := p.maxInFlight.Load(); n > m && !p.maxInFlight.CompareAndSwap(m, n); m = p.maxInFlight.Load() {
	}
	time.Sleep(time.Millisecond) // a query takes a while: shards overlap
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []herald.ParkedRetry
	rs := p.shards[shard]
	start := 0
	if after != nil {
		start, _ = slices.BinarySearchFunc(rs, after.Key, func(r herald.ParkedRetry, k string) int { return strings.Compare(r.Key, k+"\x00") })
	}
	for _, r := range rs[start:] {
		if p.unparked[r.Key] {
			continue
		}
		if !r.Due.Before(until) || len(out) == limit {
			break
		}
		out = append(out, r)
	}
	return out, nil
}

func (p *parkedIndex) Unpark(_ context.Context, r herald.ParkedRetry) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unparked[r.Key] = true
	return nil
}

func (p *parkedIndex) left() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, rs := range p.shards {
		n += len(rs)
	}
	return n - len(p.unparked)
}

// jobLog is a queue that records each job it is given and how.
type jobLog struct {
	delivery.Queue
	mu       sync.Mutex
	jobs     map[string]int // call id → times queued
	batches  int
	oversize int
	delays   []time.Duration
}

func (q *jobLog) SendDelayed(_ context.Context, jobs []herald.DelayedJob) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.batches++
	if len(jobs) > 10 {
		q.oversize++
	}
	for _, j := range jobs {
		q.jobs[j.Job.CallID]++
		q.delays = append(q.delays, j.Delay)
	}
	return nil
}

func (q *jobLog) Send(context.Context, herald.Job, time.Duration) error {
	return fmt.Errorf("the sweep sends in batches")
}

// TestSweepWorksOffABacklog is issue 10's sixth defect: the sweep sent one
// message and one update per parked retry, one after another, about 1,000 to
// 1,500 a minute, and ran into its timeout with a backlog. 20,000 retries
// due in the same minute are now on the queue within two sweeps, each once,
// sent ten per batch with the delay that makes each due on time, reading the
// due shards in parallel; a sweep left with too little time starts nothing.
func TestSweepWorksOffABacklog(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	idx := &parkedIndex{shards: make([][]herald.ParkedRetry, 4), unparked: map[string]bool{}}
	const n = 20000
	for i := range n {
		due := now.Add(time.Duration(i%60) * time.Second) // all due in the coming minute
		id := herald.NewID(now.Add(time.Duration(i) * time.Millisecond))
		r := herald.ParkedRetry{ProjectID: "p1", CallID: id, Retry: 3, Due: due,
			Key: due.Format(herald.TimeFormat) + "#3#" + id}
		idx.shards[i%4] = append(idx.shards[i%4], r)
	}
	for _, rs := range idx.shards {
		slices.SortFunc(rs, func(a, b herald.ParkedRetry) int { return strings.Compare(a.Key, b.Key) })
	}
	q := &jobLog{jobs: map[string]int{}}
	clk := testenv.NewClock(now)
	h := delivery.New(delivery.Deps{Store: idx, Queue: q, Sender: nil, Clock: clk, Log: slog.New(slog.DiscardHandler)})

	// A sweep with less time left than it needs for a page starts none.
	short, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if got, err := h.Sweep(short); err != nil || got != 0 {
		t.Errorf("a sweep with 1 s left queued %d (%v); want 0", got, err)
	}

	sweeps := 0
	for idx.left() > 0 && sweeps < 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // Lambda's timeout
		got, err := h.Sweep(ctx)
		cancel()
		if err != nil {
			t.Fatalf("sweep %d: %v", sweeps+1, err)
		}
		sweeps++
		t.Logf("sweep %d queued %d", sweeps, got)
	}
	if left := idx.left(); left != 0 {
		t.Fatalf("%d of %d retries still parked after %d sweeps", left, n, sweeps)
	}
	if len(q.jobs) != n {
		t.Errorf("%d distinct calls queued; want %d", len(q.jobs), n)
	}
	for id, times := range q.jobs {
		if times != 1 {
			t.Errorf("call %s queued %d times", id, times)
		}
	}
	if q.oversize > 0 || q.batches > n/10+4*2*2 {
		t.Errorf("%d batches (%d over ten); want about %d", q.batches, q.oversize, n/10)
	}
	for _, d := range q.delays {
		if d < 0 || d > time.Minute {
			t.Fatalf("a job delayed %v; each is due within the minute", d)
		}
	}
	if m := idx.maxInFlight.Load(); m < 2 {
		t.Errorf("at most %d shard queries at once; the shards are read in parallel", m)
	}
}

// TestSweepSendsInBatches checks the sweep against moto: parked retries
// leave the index ten per SendMessageBatch, each delayed to its due time,
// and no SendMessage is made for them.
// TestSweepsRunTheUpgradeUntilDone: each sweep runs a step of the table's
// upgrade, until one says it is done; the instance's later sweeps skip it.
func TestSweepsRunTheUpgradeUntilDone(t *testing.T) {
	idx := &parkedIndex{shards: make([][]herald.ParkedRetry, 2), unparked: map[string]bool{}, upgradeSteps: 3}
	h := delivery.New(delivery.Deps{Store: idx, Queue: &jobLog{jobs: map[string]int{}}, Clock: testenv.NewClock(time.Now()),
		Log: slog.New(slog.DiscardHandler)})
	for range 5 {
		if _, err := h.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if idx.upgradeCalls != 3 {
		t.Errorf("5 sweeps ran %d upgrade steps; want 3, the last of which said done", idx.upgradeCalls)
	}
}

func TestSweepSendsInBatches(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	const n = 45
	now := f.clock.Now()
	for i := range n {
		c := f.newCall(t)
		got, _, err := f.store.ClaimAttempt(ctx, first(c), "l", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		due, next := now.Add(30*time.Minute+time.Duration(i)*time.Second), 3
		got.Status, got.NextAuto, got.NextRetryAt = herald.StatusRescheduled, &next, &due
		if err := f.store.RecordAttempt(ctx, got, "l", herald.Recording{Park: true}); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Set(now.Add(20 * time.Minute))
	f.env.Calls.Reset()
	got, err := f.handler.Sweep(ctx)
	if err != nil || got != n {
		t.Fatalf("Sweep = %d, %v; want %d", got, err, n)
	}
	calls := f.env.Calls.Snapshot()
	// Each shard's page ends in a batch of its own: at most one short
	// batch per shard.
	if b := calls["SQS.SendMessageBatch"]; b < (n+9)/10 || b > (n+9)/10+f.store.DueShards() || calls["SQS.SendMessage"] != 0 {
		t.Errorf("AWS calls %v; want about %d SendMessageBatch (ten a batch, per shard) and no SendMessage", calls, (n+9)/10)
	}
	if again, _ := f.handler.Sweep(ctx); again != 0 {
		t.Errorf("a second sweep queued %d again", again)
	}
	out, _ := f.env.SQS.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(f.env.QueueURL),
		AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessagesDelayed"}})
	if out.Attributes["ApproximateNumberOfMessagesDelayed"] != fmt.Sprint(n) {
		t.Errorf("delayed messages %v; want %d", out.Attributes, n)
	}
}
