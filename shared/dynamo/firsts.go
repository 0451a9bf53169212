package dynamo

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/heraldhq/herald/shared/guard"
	"github.com/heraldhq/herald/shared/herald"
)

// First-attempt successes are what health does not write down: a healthy
// webhook's first attempt succeeding must cost nothing more than recording
// the call. They are counted from the activity log instead: a call whose
// only attempt so far is its first and succeeded (n = 1, s = success). Its
// hour, webhook and that fact do not change once the first attempt is made,
// so, as with countCalls, the numbers of closed hours are kept: one count
// item per project and hour, `K#<project>#firsts` / `<hour>`, holding per
// webhook how many and when the newest was. Reading health then costs one
// Query for the kept hours and a count of the open hour.
const (
	firstsSuffix = "#firsts"
	// firstsCloseMargin is how long after an hour ends its calls' first
	// attempts may still be recorded: a first attempt starts within
	// seconds of its call, and a queue that keeps it waiting ten minutes
	// raises FirstAttemptQueueAgeAlarm.
	firstsCloseMargin = 10 * time.Minute
	// healthLookback is how far back last_success_at is looked for among
	// first attempts; the counts themselves cover the health window.
	healthLookback = 7 * 24 * time.Hour
)

// firstsItem is one hour's kept counts: per webhook, [count, newest success
// in epoch ms].
type firstsItem struct {
	PK        string             `dynamodbav:"PK"`
	SK        string             `dynamodbav:"SK"`
	Type      string             `dynamodbav:"type"`
	Counts    map[string][]int64 `dynamodbav:"m"`
	ExpiresAt int64              `dynamodbav:"expires_at"`
}

// firstTally is one webhook's first-attempt successes in one hour.
type firstTally struct {
	count  int64
	newest int64 // epoch ms
}

// firstSuccesses counts each webhook's first-attempt successes of the
// health window, by hour, and finds its newest within healthLookback.
func (s *Store) firstSuccesses(ctx context.Context, project string, now time.Time) (map[string]herald.FirstSuccesses, error) {
	lookback := min(healthLookback, s.retention-expiryMargin-2*time.Hour)
	from := herald.Hour(now.Add(-lookback)).Add(time.Hour)
	closed := herald.Hour(now.Add(-firstsCloseMargin)) // hours before it are closed
	pk := countPrefix + project + firstsSuffix
	hours := map[time.Time]map[string]firstTally{}

	kept, err := keptHours[firstsItem](ctx, s, pk, from, closed.Add(-time.Hour), "first-attempt counts")
	if err != nil {
		return nil, err
	}
	for _, it := range kept {
		hour, err := time.Parse(hourFormat, it.SK)
		if err != nil {
			return nil, fmt.Errorf("first-attempt count of hour %q: %w", it.SK, err)
		}
		byHook := map[string]firstTally{}
		for w, v := range it.Counts {
			if len(v) == 2 {
				byHook[w] = firstTally{count: v[0], newest: v[1]}
			}
		}
		hours[hour] = byHook
	}

	var missing []time.Time
	for h := from; h.Before(closed); h = h.Add(time.Hour) {
		if _, ok := hours[h]; !ok {
			missing = append(missing, h)
		}
	}
	var live, counted map[time.Time]map[string]firstTally
	g, gctx := errgroup.WithContext(ctx)
	g.Go(guard.Func(func() (err error) {
		live, err = s.tallyFirsts(gctx, project, closed, now.Add(time.Millisecond), now)
		return err
	}))
	if len(missing) > 0 {
		g.Go(guard.Func(func() (err error) {
			counted, err = s.tallyFirsts(gctx, project, missing[0], missing[len(missing)-1].Add(time.Hour), now)
			return err
		}))
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Keep what was missing, empty hours too (one item an hour at most,
	// whatever anyone asks): a project without traffic would otherwise
	// count its week again on every read. Keeping is an optimisation; a
	// failure costs the next read a recount.
	var writes []types.WriteRequest
	for _, h := range missing {
		byHook := counted[h]
		if byHook == nil {
			byHook = map[string]firstTally{}
		}
		hours[h] = byHook
		it := firstsItem{PK: pk, SK: h.Format(hourFormat), Type: "first_success_count", Counts: map[string][]int64{},
			ExpiresAt: h.Add(s.retention + 2*time.Hour).Unix()}
		for w, t := range byHook {
			it.Counts[w] = []int64{t.count, t.newest}
		}
		raw, err := attributevalue.MarshalMap(it)
		if err != nil {
			return nil, fmt.Errorf("marshal first-attempt count: %w", err)
		}
		writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: raw}})
	}
	_ = s.batchWrite(ctx, writes)
	for h, byHook := range live {
		hours[h] = byHook
	}

	window := herald.WindowStart(now)
	out := map[string]herald.FirstSuccesses{}
	for h, byHook := range hours {
		for w, t := range byHook {
			fs := out[w]
			if fs.Hours == nil {
				fs.Hours = map[time.Time]int{}
			}
			if !h.Before(window) {
				fs.Hours[h] += int(t.count)
			}
			if newest := time.UnixMilli(t.newest).UTC(); t.count > 0 && newest.After(fs.Newest) {
				fs.Newest = newest
			}
			out[w] = fs
		}
	}
	return out, nil
}

// tallyFirsts reads the activity log's calls created in [from, to) whose
// only attempt so far, their first, succeeded, and tallies them per hour
// and webhook. Operational calls are left out: they do not count toward
// health.
func (s *Store) tallyFirsts(ctx context.Context, project string, from, to, now time.Time) (map[time.Time]map[string]firstTally, error) {
	if !from.Before(to) {
		return nil, nil
	}
	u := newUpdate()
	filter := u.Name(attrExpires) + " > " + u.Value(avN(now.Unix())) +
		" AND " + u.Name(attrAttemptCount) + " = " + u.Value(avN(1)) +
		" AND " + u.Name(attrStatus) + " = " + u.Value(avS(string(herald.StatusSuccess))) +
		" AND " + u.Name(attrEntityType) + " <> " + u.Value(avS(herald.EntityWebhook))
	projection := "#sk, " + u.Name(attrWebhook) + ", " + u.Name(attrLastSent)
	lq := &listQuery{lower: ulidBound(from.UnixMilli(), '0'), upper: ulidBound(to.UnixMilli()-1, 'Z'),
		filter: filter, names: u.names, values: u.values}
	var mu sync.Mutex
	out := map[time.Time]map[string]firstTally{}
	err := s.eachShard(ctx, project, lq, projection, "count first-attempt successes", func(_ int, page *dynamodb.QueryOutput) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, raw := range page.Items {
			it := item(raw)
			created, ok := herald.IDTime(it.s("SK"))
			if !ok {
				continue
			}
			h := herald.Hour(created)
			if out[h] == nil {
				out[h] = map[string]firstTally{}
			}
			t := out[h][it.s(attrWebhook)]
			t.count++
			if ls, _ := it.n(attrLastSent); ls > t.newest {
				t.newest = ls
			}
			out[h][it.s(attrWebhook)] = t
		}
		return true
	})
	return out, err
}
