package main

import (
	"context"
	"errors"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// moto answers ReturnConsumedCapacity with a constant (1 or 0.5 units,
// whatever the item), so request units are computed here from item sizes,
// by DynamoDB's published rules: a write costs 1 WRU per KB (rounded up) of
// the larger of the item before and after it, twice that in a transaction,
// plus a write to each global secondary index whose entry changes; a read
// costs 1 RRU per 4 KB (rounded up, of all items a query returns together)
// if strongly consistent, half if eventually consistent.

// index is a global secondary index: its key attributes and what it
// projects.
type index struct {
	Name       string
	Keys       []string
	Projection string   // ALL, KEYS_ONLY or INCLUDE
	Include    []string // for INCLUDE
}

// usage is what one kind of DynamoDB call consumed.
type usage struct {
	Calls  int
	RRU    float64
	WRU    float64 // on the table
	IdxWRU float64 // on global secondary indexes
}

// capacity computes request units for every DynamoDB call an SDK
// configuration makes. It peeks at items before and after each write with a
// client of its own, whose calls are not counted.
type capacity struct {
	peek      *dynamodb.Client
	tableKeys []string
	indexes   []index

	mu   sync.Mutex
	byOp map[string]usage
}

func newCapacity(peek *dynamodb.Client, tableKeys []string, indexes []index) *capacity {
	return &capacity{peek: peek, tableKeys: tableKeys, indexes: indexes, byOp: map[string]usage{}}
}

// Attach adds the accounting middleware to cfg.
func (c *capacity) Attach(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("HeraldCapacity",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				writes, transactional := c.writesOf(ctx, in.Parameters)
				out, md, err := next.HandleInitialize(ctx, in)
				if u, ok := c.account(ctx, in.Parameters, out.Result, writes, transactional, err); ok {
					c.add(strings.TrimSuffix(reflect.TypeOf(in.Parameters).Elem().Name(), "Input"), u)
				}
				return out, md, err
			}), middleware.After)
	})
}

// Snapshot returns a copy of the usage so far, by operation name.
func (c *capacity) Snapshot() map[string]usage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.byOp)
}

// Reset forgets the usage so far.
func (c *capacity) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.byOp)
}

func (c *capacity) add(op string, u usage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.byOp[op]
	c.byOp[op] = usage{Calls: t.Calls + u.Calls, RRU: t.RRU + u.RRU, WRU: t.WRU + u.WRU, IdxWRU: t.IdxWRU + u.IdxWRU}
}

type item = map[string]types.AttributeValue

// write is one item a call writes: its table and key, and the item as it
// was before the call.
type write struct {
	table  string
	key    item
	put    item // the new item of a put
	del    bool
	before item
}

// writesOf lists the items a write call is about to change, each read,
// uncounted, as it stands before the call.
func (c *capacity) writesOf(ctx context.Context, params any) (writes []write, transactional bool) {
	switch in := params.(type) {
	case *dynamodb.PutItemInput:
		writes = []write{{table: aws.ToString(in.TableName), key: c.keyOf(in.Item), put: in.Item}}
	case *dynamodb.UpdateItemInput:
		writes = []write{{table: aws.ToString(in.TableName), key: in.Key}}
	case *dynamodb.DeleteItemInput:
		writes = []write{{table: aws.ToString(in.TableName), key: in.Key, del: true}}
	case *dynamodb.BatchWriteItemInput:
		for table, reqs := range in.RequestItems {
			for _, r := range reqs {
				switch {
				case r.PutRequest != nil:
					writes = append(writes, write{table: table, key: c.keyOf(r.PutRequest.Item), put: r.PutRequest.Item})
				case r.DeleteRequest != nil:
					writes = append(writes, write{table: table, key: r.DeleteRequest.Key, del: true})
				}
			}
		}
	case *dynamodb.TransactWriteItemsInput:
		transactional = true
		for _, t := range in.TransactItems {
			switch {
			case t.Put != nil:
				writes = append(writes, write{table: aws.ToString(t.Put.TableName), key: c.keyOf(t.Put.Item), put: t.Put.Item})
			case t.Update != nil:
				writes = append(writes, write{table: aws.ToString(t.Update.TableName), key: t.Update.Key})
			case t.Delete != nil:
				writes = append(writes, write{table: aws.ToString(t.Delete.TableName), key: t.Delete.Key, del: true})
			case t.ConditionCheck != nil:
				// A condition check is billed as a write of the item.
				writes = append(writes, write{table: aws.ToString(t.ConditionCheck.TableName), key: t.ConditionCheck.Key})
			}
		}
	}
	for i, w := range writes {
		writes[i].before = c.get(ctx, w.table, w.key)
	}
	return writes, transactional
}

func (c *capacity) keyOf(it item) item {
	k := item{}
	for _, name := range c.tableKeys {
		if v, ok := it[name]; ok {
			k[name] = v
		}
	}
	return k
}

func (c *capacity) get(ctx context.Context, table string, key item) item {
	out, err := c.peek.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil
	}
	return out.Item
}

// account is what a call consumed; false for a call that neither reads nor
// writes a table.
func (c *capacity) account(ctx context.Context, params, result any, writes []write, transactional bool, callErr error) (usage, bool) {
	u := usage{Calls: 1}
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		u.RRU = readUnits(itemSize(resultOf[dynamodb.GetItemOutput](result).Item), aws.ToBool(in.ConsistentRead))
		return u, true
	case *dynamodb.QueryInput:
		u.RRU = readUnits(sumOf(resultOf[dynamodb.QueryOutput](result).Items, itemSize), aws.ToBool(in.ConsistentRead))
		return u, true
	case *dynamodb.BatchGetItemInput:
		for table, items := range resultOf[dynamodb.BatchGetItemOutput](result).Responses {
			for _, it := range items {
				u.RRU += readUnits(itemSize(it), aws.ToBool(in.RequestItems[table].ConsistentRead))
			}
		}
		return u, true
	}
	if writes == nil {
		return u, false
	}
	var ccf *types.ConditionalCheckFailedException
	var tce *types.TransactionCanceledException
	failed := callErr != nil
	if failed && !errors.As(callErr, &ccf) && !errors.As(callErr, &tce) {
		return u, true // a call that never reached the table costs nothing
	}
	for _, w := range writes {
		now := w.before
		switch {
		case failed: // nothing changed
		case w.del:
			now = nil
		case w.put != nil:
			now = w.put
		default:
			now = c.get(ctx, w.table, w.key)
		}
		wru := writeUnits(max(itemSize(w.before), itemSize(now)))
		if transactional {
			wru *= 2
		}
		u.WRU += wru
		for _, idx := range c.indexes {
			u.IdxWRU += indexWriteUnits(c.project(idx, w.before), c.project(idx, now), idx)
		}
	}
	return u, true
}

// resultOf is a call's result, or its zero value when the call failed.
func resultOf[T any](result any) T {
	if p, ok := result.(*T); ok && p != nil {
		return *p
	}
	var zero T
	return zero
}

// project returns an item's entry in an index, nil if the item has none
// (an index key attribute is missing).
func (c *capacity) project(idx index, it item) item {
	if it == nil {
		return nil
	}
	entry := item{}
	for _, k := range idx.Keys {
		v, ok := it[k]
		if !ok {
			return nil
		}
		entry[k] = v
	}
	for _, k := range c.tableKeys {
		entry[k] = it[k]
	}
	switch idx.Projection {
	case "ALL":
		return it
	case "INCLUDE":
		for _, k := range idx.Include {
			if v, ok := it[k]; ok {
				entry[k] = v
			}
		}
	}
	return entry
}

// indexWriteUnits is what a write costs on one index: nothing if the entry
// does not change, a put or a delete if it appears or goes, both if its key
// changes.
func indexWriteUnits(old, now item, idx index) float64 {
	switch {
	case reflect.DeepEqual(old, now):
		return 0 // no entry either side, or the same one
	case old == nil:
		return writeUnits(itemSize(now))
	case now == nil:
		return writeUnits(itemSize(old))
	case slices.ContainsFunc(idx.Keys, func(k string) bool { return !reflect.DeepEqual(old[k], now[k]) }):
		return writeUnits(itemSize(old)) + writeUnits(itemSize(now))
	}
	return writeUnits(itemSize(now))
}

func writeUnits(size int) float64 { return math.Max(1, math.Ceil(float64(size)/1024)) }

func readUnits(size int, consistent bool) float64 {
	units := math.Max(1, math.Ceil(float64(size)/4096))
	if !consistent {
		units /= 2
	}
	return units
}

// itemSize is an item's size as DynamoDB counts it: attribute names plus
// values, with 3 bytes for each list or map and 1 byte for each of their
// elements ("Item sizes and formats" in the DynamoDB developer guide).
func itemSize(it item) int {
	n := 0
	for name, v := range it {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return numberSize(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		return sumOf(v.Value, func(s string) int { return len(s) })
	case *types.AttributeValueMemberNS:
		return sumOf(v.Value, numberSize)
	case *types.AttributeValueMemberBS:
		return sumOf(v.Value, func(b []byte) int { return len(b) })
	case *types.AttributeValueMemberL:
		return 3 + len(v.Value) + sumOf(v.Value, valueSize)
	case *types.AttributeValueMemberM:
		return 3 + len(v.Value) + itemSize(v.Value)
	}
	return 0
}

func sumOf[T any](values []T, size func(T) int) int {
	n := 0
	for _, v := range values {
		n += size(v)
	}
	return n
}

// numberSize is 1 byte per two significant digits, plus 1.
func numberSize(s string) int {
	s = strings.TrimLeft(s, "+-")
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s = s[:i]
	}
	digits := strings.Trim(strings.Replace(s, ".", "", 1), "0")
	if digits == "" {
		return 2
	}
	return (len(digits)+1)/2 + 1
}
