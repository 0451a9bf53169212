package dynamo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/heraldhq/herald/shared/guard"
	"github.com/heraldhq/herald/shared/herald"
)

// MaxSortedScan bounds the calls read to order by anything but creation: such
// an order needs every matching call, so a query that matches more is
// refused with advice to narrow it (by created_at, say).
const MaxSortedScan = 50000

// indexItem is what a listing reads of a call before it reads the page:
// its keys and what orderings sort on (times in epoch ms, 0 for none).
type indexItem struct {
	PK, SK      string
	WebhookID   string
	LastSentAt  int64
	NextRetryAt int64
}

// indexProjection is what a listing's queries ask for; filters read the
// whole item all the same.
const indexProjection = "PK, SK, " + attrWebhook + ", " + attrLastSent + ", " + attrNextRetry

func indexItems(raws []map[string]types.AttributeValue) []indexItem {
	out := make([]indexItem, len(raws))
	for i, raw := range raws {
		it := item(raw)
		ls, _ := it.n(attrLastSent)
		nr, _ := it.n(attrNextRetry)
		out[i] = indexItem{PK: it.s("PK"), SK: it.s("SK"), WebhookID: it.s(attrWebhook), LastSentAt: ls, NextRetryAt: nr}
	}
	return out
}

// listQuery is a CallQuery turned into DynamoDB terms: the key bounds of the
// created_at range and one filter expression, shared by the page queries and
// the count, so the two always agree.
type listQuery struct {
	lower, upper string
	filter       string
	names        map[string]string
	values       map[string]types.AttributeValue
}

func newListQuery(q herald.CallQuery, now time.Time) (*listQuery, error) {
	lq := &listQuery{lower: "0", upper: "~"}
	if q.CreatedAfter != nil {
		lq.lower = ulidBound(q.CreatedAfter.UnixMilli()+1, '0')
	}
	if q.CreatedBefore != nil {
		ms := q.CreatedBefore.UnixMilli()
		if q.CreatedBefore.Equal(time.UnixMilli(ms)) {
			ms-- // exclusive: a call created exactly then is not before it
		}
		lq.upper = ulidBound(ms, 'Z')
	}
	u := newUpdate()
	conds := []string{u.Name(attrExpires) + " > " + u.Value(avN(now.Unix()))}
	eq := func(attr, v string) {
		if v != "" {
			conds = append(conds, u.Name(attr)+" = "+u.Value(avS(v)))
		}
	}
	eq(attrWebhook, q.WebhookID)
	eq(attrEntityType, q.EntityType)
	eq(attrEventType, q.EventType)
	eq(attrStatus, string(q.Status))
	// Stored times are epoch milliseconds: t > T is t > T's millisecond,
	// and t < T is t < T rounded up to the next millisecond.
	after := func(attr string, t *time.Time) {
		if t != nil {
			conds = append(conds, u.Name(attr)+" > "+u.Value(avN(t.Truncate(time.Millisecond).UnixMilli())))
		}
	}
	before := func(attr string, t *time.Time) {
		if t != nil {
			up := t.Truncate(time.Millisecond)
			if !up.Equal(*t) {
				up = up.Add(time.Millisecond)
			}
			conds = append(conds, u.Name(attr)+" < "+u.Value(avN(up.UnixMilli())))
		}
	}
	after(attrLastSent, q.LastSentAfter)
	before(attrLastSent, q.LastSentBefore)
	after(attrNextRetry, q.NextRetryAfter)
	before(attrNextRetry, q.NextRetryBefore)
	lq.filter = strings.Join(conds, " AND ")
	lq.names, lq.values = u.names, u.values
	return lq, nil
}

// ulidBound is the smallest ('0') or largest ('Z') ULID of a millisecond.
func ulidBound(ms int64, fill byte) string {
	id := herald.NewID(time.UnixMilli(ms))
	return id[:10] + strings.Repeat(string(fill), 16)
}

func (lq *listQuery) input(table, pk string, forward bool) *dynamodb.QueryInput {
	values := make(map[string]types.AttributeValue, len(lq.values)+3)
	maps.Copy(values, lq.values)
	values[":pk"] = avS(pk)
	values[":lo"] = avS(lq.lower)
	values[":hi"] = avS(lq.upper)
	names := make(map[string]string, len(lq.names)+3)
	maps.Copy(names, lq.names)
	names["#pk"], names["#sk"] = "PK", "SK"
	return &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk BETWEEN :lo AND :hi"),
		FilterExpression:          aws.String(lq.filter),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ScanIndexForward:          aws.Bool(forward),
	}
}

// ListCalls returns a page of a project's calls and how many match in all.
//
// Ordered by creation (the default), it merges the shards of the activity
// log index newest (or oldest) first, reading about offset+limit index items
// and then the page's calls: a first page costs the same with a million calls
// as with ten. The total is counted by countCalls: kept per-hour counts for
// what cannot change any more, and the same queries with Select=COUNT for
// the rest.
// Other orders read every matching index item, up to MaxSortedScan.
func (s *Store) ListCalls(ctx context.Context, project string, q herald.CallQuery) ([]*herald.Call, int, error) {
	if err := checkProject(project); err != nil {
		return nil, 0, err
	}
	lq, err := newListQuery(q, s.clock.Now())
	if err != nil {
		return nil, 0, err
	}
	var refs []indexItem
	var total int
	switch {
	case len(q.IDs) > 0:
		refs, err = s.indexByIDs(ctx, project, lq, q.IDs)
		sortIndex(refs, q)
		total = len(refs)
		refs = pageOf(refs, q.Offset, q.Limit)
	case (q.OrderBy == "" || q.OrderBy == "created_at") && q.Offset == 0:
		// The first page: merge and count at once.
		g, gctx := errgroup.WithContext(ctx)
		g.Go(guard.Func(func() (err error) {
			refs, err = s.mergeShards(gctx, project, lq, !q.Desc, 0, q.Limit)
			return err
		}))
		g.Go(guard.Func(func() (err error) {
			total, err = s.countCalls(gctx, project, q, lq)
			return err
		}))
		err = g.Wait()
	case q.OrderBy == "" || q.OrderBy == "created_at":
		// A later page: the count says whether there is one, so an offset
		// past the end reads nothing more, however large it is.
		if total, err = s.countCalls(ctx, project, q, lq); err == nil && q.Offset < total {
			refs, err = s.mergeShards(ctx, project, lq, !q.Desc, q.Offset, q.Limit)
		}
	default:
		refs, err = s.scanShards(ctx, project, lq)
		if err == nil {
			sortIndex(refs, q)
			total = len(refs)
			refs = pageOf(refs, q.Offset, q.Limit)
		}
	}
	if err != nil {
		return nil, 0, err
	}
	calls, err := s.getCalls(ctx, project, refs)
	return calls, total, err
}

// mergeShards reads matching index items across all shards in id order,
// skips the first skip of them and returns the next take, reading each shard
// only as far as the merge needs. It holds no more than the page and one
// query's answer per shard, however deep skip goes.
func (s *Store) mergeShards(ctx context.Context, project string, lq *listQuery, forward bool, skip, take int) ([]indexItem, error) {
	pageSize := int32(1000)
	if skip < 1000 { // and take is at most herald.MaxCallLimit
		pageSize = int32(min(max(skip+take, 50), 1000))
	}
	cursors := make([]*shardCursor, callShards)
	g, gctx := errgroup.WithContext(ctx)
	for i := range cursors {
		in := lq.input(s.table, logKey(project, i), forward)
		in.Limit = aws.Int32(pageSize)
		in.ProjectionExpression = aws.String(indexProjection)
		cursors[i] = &shardCursor{db: s.db, in: in}
		g.Go(guard.Func(func() error { return cursors[i].fill(gctx) }))
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make([]indexItem, 0, take)
	for len(out) < take {
		best := -1
		for i, c := range cursors {
			if err := c.fill(ctx); err != nil {
				return nil, err
			}
			if len(c.buf) == 0 {
				continue
			}
			if best < 0 || (c.buf[0].SK > cursors[best].buf[0].SK) != forward {
				best = i
			}
		}
		if best < 0 {
			break
		}
		if skip > 0 {
			skip--
		} else {
			out = append(out, cursors[best].buf[0])
		}
		cursors[best].buf = cursors[best].buf[1:]
	}
	return out, nil
}

// shardCursor reads one shard page by page.
type shardCursor struct {
	db   Client
	in   *dynamodb.QueryInput
	buf  []indexItem
	done bool
}

// fill reads pages until the buffer has an item or the shard is exhausted.
func (c *shardCursor) fill(ctx context.Context) error {
	for len(c.buf) == 0 && !c.done {
		out, err := c.db.Query(ctx, c.in)
		if err != nil {
			return classify(err, "query activity log")
		}
		c.buf = indexItems(out.Items)
		c.in.ExclusiveStartKey = out.LastEvaluatedKey
		c.done = out.LastEvaluatedKey == nil
	}
	return nil
}

// countShards counts matching calls across shards, in parallel.
func (s *Store) countShards(ctx context.Context, project string, lq *listQuery) (int, error) {
	var total atomic.Int64
	err := s.eachShard(ctx, project, lq, "", "count activity log", func(_ int, out *dynamodb.QueryOutput) bool {
		total.Add(int64(out.Count))
		return true
	})
	return int(total.Load()), err
}

// eachShard queries every shard of a project's activity log in parallel and
// hands each page to page, on that shard's goroutine, until page returns
// false or the shard is read. The items hold projection; an empty
// projection counts them instead (Select COUNT).
func (s *Store) eachShard(ctx context.Context, project string, lq *listQuery, projection, what string, page func(shard int, out *dynamodb.QueryOutput) bool) error {
	g, gctx := errgroup.WithContext(ctx)
	for shard := range callShards {
		g.Go(guard.Func(func() error {
			in := lq.input(s.table, logKey(project, shard), true)
			if projection == "" {
				in.Select = types.SelectCount
			} else {
				in.ProjectionExpression = aws.String(projection)
			}
			err := s.queryPages(gctx, in, func(out *dynamodb.QueryOutput) error {
				if !page(shard, out) {
					return errShardRead
				}
				return nil
			}, "%s", what)
			if errors.Is(err, errShardRead) {
				return nil
			}
			return err
		}))
	}
	return g.Wait()
}

// errShardRead stops eachShard's reading of one shard early.
var errShardRead = errors.New("shard read far enough")

// scanShards reads every matching index item, up to MaxSortedScan.
func (s *Store) scanShards(ctx context.Context, project string, lq *listQuery) ([]indexItem, error) {
	var mu sync.Mutex
	var all []indexItem
	err := s.eachShard(ctx, project, lq, indexProjection, "scan activity log", func(_ int, out *dynamodb.QueryOutput) bool {
		items := indexItems(out.Items)
		mu.Lock()
		defer mu.Unlock()
		all = append(all, items...)
		return len(all) <= MaxSortedScan
	})
	if err != nil {
		return nil, err
	}
	if len(all) > MaxSortedScan {
		return nil, herald.Invalid([]herald.Problem{{Field: "order_by", Code: herald.ValidationInvalid,
			Message: fmt.Sprintf("this order needs every matching call and more than %d match; narrow the list, for example with filter[fields][created_at][gt]", MaxSortedScan)}})
	}
	return all, nil
}

// indexByIDs reads the given calls that match the query: one GetItem-sized
// query per id (the id gives its shard), through the same filter as every
// listing.
func (s *Store) indexByIDs(ctx context.Context, project string, lq *listQuery, ids []string) ([]indexItem, error) {
	found := make([][]indexItem, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, id := range ids {
		if !herald.IsID(id) {
			continue // not an id Herald made: it matches no call
		}
		if id < lq.lower || id > lq.upper {
			continue
		}
		g.Go(guard.Func(func() error {
			in := lq.input(s.table, callPK(project, id), true)
			in.ExpressionAttributeValues[":lo"] = avS(id)
			in.ExpressionAttributeValues[":hi"] = avS(id)
			in.ProjectionExpression = aws.String(indexProjection)
			out, err := s.db.Query(gctx, in)
			if err != nil {
				return classify(err, "query call %s", id)
			}
			found[i] = indexItems(out.Items)
			return nil
		}))
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []indexItem
	seen := map[string]bool{}
	for _, items := range found {
		for _, it := range items {
			if !seen[it.SK] {
				seen[it.SK] = true
				out = append(out, it)
			}
		}
	}
	return out, nil
}

// sortIndex orders index items in memory. Missing times sort as PostgreSQL
// (and so DatoCMS) sorts NULL: last ascending, first descending. Ties keep
// creation order, newest first when descending.
func sortIndex(items []indexItem, q herald.CallQuery) {
	var field func(indexItem) (int64, string)
	switch q.OrderBy {
	case "last_sent_at":
		field = func(it indexItem) (int64, string) { return it.LastSentAt, "" }
	case "next_retry_at":
		field = func(it indexItem) (int64, string) { return it.NextRetryAt, "" }
	case "webhook_id":
		field = func(it indexItem) (int64, string) { return 1, it.WebhookID }
	default:
		field = func(it indexItem) (int64, string) { return 1, it.SK }
	}
	slices.SortStableFunc(items, func(a, b indexItem) int {
		na, sa := field(a)
		nb, sb := field(b)
		c := 0
		switch {
		case na == nb && sa == sb:
			c = strings.Compare(a.SK, b.SK)
		case na == 0:
			c = 1
		case nb == 0:
			c = -1
		case na != nb:
			c = cmp.Compare(na, nb)
		default:
			c = strings.Compare(sa, sb)
		}
		if q.Desc {
			return -c
		}
		return c
	})
}

func pageOf(items []indexItem, offset, limit int) []indexItem {
	if offset >= len(items) {
		return nil
	}
	return items[offset:min(offset+limit, len(items))]
}

// getCalls reads the calls of a page, in the page's order, 100 keys per
// BatchGetItem, with their requests as sent.
func (s *Store) getCalls(ctx context.Context, project string, refs []indexItem) ([]*herald.Call, error) {
	keys := make([]map[string]types.AttributeValue, len(refs))
	for i, r := range refs {
		keys[i] = key(r.PK, r.SK)
	}
	byID, err := s.readCalls(ctx, project, keys, false)
	if err != nil {
		return nil, err
	}
	calls := make([]*herald.Call, 0, len(refs))
	for _, r := range refs {
		if c := byID[r.SK]; c != nil {
			calls = append(calls, c)
		}
	}
	return calls, s.renderBodies(ctx, project, calls)
}
