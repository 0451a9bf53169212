package dynamo

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/heraldhq/herald/shared/guard"
	"github.com/heraldhq/herald/shared/herald"
)

// Counting a project's calls reads every matching index entry: a million
// calls is ~250 MB of index. But a call never changes its hour, webhook,
// entity type or event type, so the number of calls an hour holds for such a
// filter never changes once the hour is over, until its calls start to
// expire. countCalls keeps those numbers in the table (count items, one per
// project, filter and hour) the first time it needs them, and from then on
// counts live only the hours that can still change: the open hour, hours
// whose calls are expiring, and partial hours at the query's created_at
// bounds. A first page then costs one Query for the counts plus a live count
// of about an hour of calls.
const (
	countPrefix = "K#"
	hourFormat  = "2006-01-02T15"
	// closeMargin is how long after an hour ends calls may still be written
	// into it: ingest stamps a call before writing it, within one invocation.
	closeMargin = 2 * time.Minute
	// expiryMargin keeps hours whose calls expire soon out of the cache.
	expiryMargin = 10 * time.Minute
)

// DefaultRetention is the call retention assumed unless Deps.Retention says
// otherwise; it must match CALL_RETENTION_DAYS, which sets calls' TTL.
const DefaultRetention = 30 * 24 * time.Hour

type countItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Type      string `dynamodbav:"type"`
	N         int    `dynamodbav:"n"`
	ExpiresAt int64  `dynamodbav:"expires_at"`
}

// countable reports whether a query filters only on what a call never
// changes, so its per-hour counts can be kept.
func countable(q herald.CallQuery) bool {
	return len(q.IDs) == 0 && q.Status == "" && q.LastSentAfter == nil && q.LastSentBefore == nil &&
		q.NextRetryAfter == nil && q.NextRetryBefore == nil
}

func countKey(project string, q herald.CallQuery) string {
	v := url.Values{}
	v.Set("w", q.WebhookID)
	v.Set("en", q.EntityType)
	v.Set("ev", q.EventType)
	return countPrefix + project + "#" + v.Encode()
}

// countCalls counts the calls a query matches.
func (s *Store) countCalls(ctx context.Context, project string, q herald.CallQuery, lq *listQuery) (int, error) {
	if !countable(q) {
		return s.countShards(ctx, project, lq)
	}
	now := s.clock.Now().UTC()
	// Hours [from, to) are closed and none of their calls expires soon.
	from := now.Add(-s.retention + expiryMargin).Truncate(time.Hour).Add(time.Hour)
	to := now.Add(-closeMargin).Truncate(time.Hour)
	// ... and lie wholly inside the query's created_at bounds.
	if q.CreatedAfter != nil {
		first := q.CreatedAfter.UTC().Truncate(time.Millisecond).Add(time.Millisecond)
		if h := first.Truncate(time.Hour); h.Before(first) {
			first = h.Add(time.Hour)
		}
		from = maxTime(from, first)
	}
	if q.CreatedBefore != nil {
		to = minTime(to, q.CreatedBefore.UTC().Truncate(time.Hour))
	}
	if !from.Before(to) {
		return s.countShards(ctx, project, lq)
	}
	var cached, live int
	g, gctx := errgroup.WithContext(ctx)
	g.Go(guard.Func(func() (err error) {
		cached, err = s.hourCounts(gctx, project, q, lq, from, to)
		return err
	}))
	g.Go(guard.Func(func() error {
		// Live: what lies outside [from, to) within the query's bounds.
		before, after := *lq, *lq
		before.upper = min(lq.upper, ulidBound(from.UnixMilli()-1, 'Z'))
		after.lower = max(lq.lower, ulidBound(to.UnixMilli(), '0'))
		var mu sync.Mutex
		lg, lctx := errgroup.WithContext(gctx)
		for _, part := range []*listQuery{&before, &after} {
			if part.lower > part.upper {
				continue
			}
			lg.Go(guard.Func(func() error {
				n, err := s.countShards(lctx, project, part)
				mu.Lock()
				live += n
				mu.Unlock()
				return err
			}))
		}
		return lg.Wait()
	}))
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return cached + live, nil
}

// hourCounts sums the kept counts of the hours [from, to), first computing
// and keeping those that are missing, with one pass over their index
// entries.
func (s *Store) hourCounts(ctx context.Context, project string, q herald.CallQuery, lq *listQuery, from, to time.Time) (int, error) {
	pk := countKey(project, q)
	items, err := keptHours[countItem](ctx, s, pk, from, to.Add(-time.Hour), "call counts")
	if err != nil {
		return 0, err
	}
	have := map[string]int{}
	for _, it := range items {
		have[it.SK] = it.N
	}
	total := 0
	var missing []time.Time
	for h := from; h.Before(to); h = h.Add(time.Hour) {
		if n, ok := have[h.Format(hourFormat)]; ok {
			total += n
		} else {
			missing = append(missing, h)
		}
	}
	if len(missing) == 0 {
		return total, nil
	}
	counted, err := s.countByHour(ctx, project, lq, missing[0], missing[len(missing)-1].Add(time.Hour))
	if err != nil {
		return 0, err
	}
	// The span counted may cover kept hours between missing ones; only the
	// missing hours add to the total.
	var writes []types.WriteRequest
	for _, h := range missing {
		key := h.Format(hourFormat)
		total += counted[key]
		item, err := attributevalue.MarshalMap(countItem{PK: pk, SK: key, Type: "call_count", N: counted[key],
			ExpiresAt: h.Add(s.retention + 2*time.Hour).Unix()})
		if err != nil {
			return 0, fmt.Errorf("marshal call count: %w", err)
		}
		writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	// A filter that matches no call keeps nothing: a made-up webhook id
	// would otherwise make a read write an item for every hour of the
	// retention period.
	if total == 0 {
		return 0, nil
	}
	// Keeping the counts is an optimisation: a failure costs the next
	// count a recount, not a wrong answer.
	_ = s.batchWrite(ctx, writes)
	return total, nil
}

// countByHour reads the matching index entries created in [from, to) and
// counts them per hour.
func (s *Store) countByHour(ctx context.Context, project string, lq *listQuery, from, to time.Time) (map[string]int, error) {
	span := *lq
	span.lower = max(lq.lower, ulidBound(from.UnixMilli(), '0'))
	span.upper = min(lq.upper, ulidBound(to.UnixMilli()-1, 'Z'))
	var mu sync.Mutex
	counts := map[string]int{}
	err := s.eachShard(ctx, project, &span, "#sk", "count activity log by hour", func(_ int, out *dynamodb.QueryOutput) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, item := range out.Items {
			sk, _ := item["SK"].(*types.AttributeValueMemberS)
			if sk == nil {
				continue
			}
			if t, ok := herald.IDTime(sk.Value); ok {
				counts[t.Truncate(time.Hour).Format(hourFormat)]++
			}
		}
		return true
	})
	return counts, err
}

// batchWrite writes items 25 per request, retrying unprocessed ones a few
// rounds.
func (s *Store) batchWrite(ctx context.Context, writes []types.WriteRequest) error {
	for start := 0; start < len(writes); start += 25 {
		req := map[string][]types.WriteRequest{s.table: writes[start:min(start+25, len(writes))]}
		for round := 0; len(req) > 0; round++ {
			if round == 5 {
				return fmt.Errorf("write call counts: items still unprocessed")
			}
			out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: req})
			if err != nil {
				return classify(err, "write call counts")
			}
			req = out.UnprocessedItems
		}
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// keptHours reads the count items of pk for the hours from to to, both
// included, into a slice of T.
func keptHours[T any](ctx context.Context, s *Store, pk string, from, to time.Time, what string) ([]T, error) {
	var out []T
	err := s.queryPages(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("PK = :pk AND SK BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(pk), ":from": avS(from.Format(hourFormat)), ":to": avS(to.Format(hourFormat)),
		},
	}, func(page *dynamodb.QueryOutput) error {
		var items []T
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &items); err != nil {
			return fmt.Errorf("unmarshal %s: %w", what, err)
		}
		out = append(out, items...)
		return nil
	}, "read %s", what)
	return out, err
}
