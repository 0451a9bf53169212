package main

import (
	"context"
	"errors"
	"math"
	"reflect"
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
	byOp map[string]*usage
}

func newCapacity(peek *dynamodb.Client, tableKeys []string, indexes []index) *capacity {
	return &capacity{peek: peek, tableKeys: tableKeys, indexes: indexes, byOp: map[string]*usage{}}
}

// Attach adds the accounting middleware to cfg.
func (c *capacity) Attach(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("HeraldCapacity",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				writes, transactional := c.writesOf(in.Parameters)
				before := c.peekWrites(ctx, writes)
				out, md, err := next.HandleInitialize(ctx, in)
				c.account(ctx, in.Parameters, out.Result, writes, transactional, before, err)
				return out, md, err
			}), middleware.After)
	})
}

// Snapshot returns a copy of the usage so far, by operation name.
func (c *capacity) Snapshot() map[string]usage {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]usage, len(c.byOp))
	for k, v := range c.byOp {
		out[k] = *v
	}
	return out
}

// Reset forgets the usage so far.
func (c *capacity) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byOp = map[string]*usage{}
}

func (c *capacity) add(op string, u usage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.byOp[op]
	if t == nil {
		t = &usage{}
		c.byOp[op] = t
	}
	t.Calls += u.Calls
	t.RRU += u.RRU
	t.WRU += u.WRU
	t.IdxWRU += u.IdxWRU
}

type item = map[string]types.AttributeValue

// write is one item a call writes: its table and key.
type write struct {
	table string
	key   item
	put   item // the new item of a put
	del   bool
}

func (c *capacity) writesOf(params any) (writes []write, transactional bool) {
	switch in := params.(type) {
	case *dynamodb.PutItemInput:
		return []write{{table: aws.ToString(in.TableName), key: c.keyOf(in.Item), put: in.Item}}, false
	case *dynamodb.UpdateItemInput:
		return []write{{table: aws.ToString(in.TableName), key: in.Key}}, false
	case *dynamodb.DeleteItemInput:
		return []write{{table: aws.ToString(in.TableName), key: in.Key, del: true}}, false
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
		return writes, false
	case *dynamodb.TransactWriteItemsInput:
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
				writes = append(writes, write{table: aws.ToString(t.ConditionCheck.TableName), key: t.ConditionCheck.Key, put: nil})
			}
		}
		return writes, true
	}
	return nil, false
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

// peekWrites reads, uncounted, the items a write call is about to change.
func (c *capacity) peekWrites(ctx context.Context, writes []write) []item {
	before := make([]item, len(writes))
	for i, w := range writes {
		before[i] = c.get(ctx, w.table, w.key)
	}
	return before
}

func (c *capacity) get(ctx context.Context, table string, key item) item {
	out, err := c.peek.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil
	}
	return out.Item
}

func (c *capacity) account(ctx context.Context, params, result any, writes []write, transactional bool, before []item, callErr error) {
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		out, _ := result.(*dynamodb.GetItemOutput)
		var it item
		if out != nil {
			it = out.Item
		}
		c.add("GetItem", usage{Calls: 1, RRU: readUnits(itemSize(it), aws.ToBool(in.ConsistentRead))})
		return
	case *dynamodb.QueryInput:
		out, _ := result.(*dynamodb.QueryOutput)
		size := 0
		if out != nil {
			for _, it := range out.Items {
				size += itemSize(it)
			}
		}
		c.add("Query", usage{Calls: 1, RRU: readUnits(size, aws.ToBool(in.ConsistentRead))})
		return
	case *dynamodb.BatchGetItemInput:
		out, _ := result.(*dynamodb.BatchGetItemOutput)
		rru := 0.0
		if out != nil {
			for table, items := range out.Responses {
				for _, it := range items {
					rru += readUnits(itemSize(it), aws.ToBool(in.RequestItems[table].ConsistentRead))
				}
			}
		}
		c.add("BatchGetItem", usage{Calls: 1, RRU: rru})
		return
	}
	if writes == nil {
		return
	}
	var ccf *types.ConditionalCheckFailedException
	var tce *types.TransactionCanceledException
	failed := callErr != nil
	u := usage{Calls: 1}
	for i, w := range writes {
		old := before[i]
		var now item
		switch {
		case failed:
			now = old // nothing changed
		case w.del:
			now = nil
		case w.put != nil:
			now = w.put
		default:
			now = c.get(ctx, w.table, w.key)
		}
		if failed && !errors.As(callErr, &ccf) && !errors.As(callErr, &tce) {
			continue // a call that never reached the table costs nothing
		}
		wru := writeUnits(max(itemSize(old), itemSize(now)))
		if transactional {
			wru *= 2
		}
		u.WRU += wru
		if !failed {
			for _, idx := range c.indexes {
				u.IdxWRU += indexWriteUnits(c.project(idx, old), c.project(idx, now), idx)
			}
		}
	}
	name := strings.TrimSuffix(reflect.TypeOf(params).Elem().Name(), "Input")
	c.add(name, u)
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
	case old == nil && now == nil:
		return 0
	case old == nil:
		return writeUnits(itemSize(now))
	case now == nil:
		return writeUnits(itemSize(old))
	}
	sameKey := true
	for _, k := range idx.Keys {
		if !reflect.DeepEqual(old[k], now[k]) {
			sameKey = false
		}
	}
	switch {
	case !sameKey:
		return writeUnits(itemSize(old)) + writeUnits(itemSize(now))
	case reflect.DeepEqual(old, now):
		return 0
	default:
		return writeUnits(itemSize(now))
	}
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
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += numberSize(s)
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, b := range v.Value {
			n += len(b)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	}
	return 0
}

// numberSize is 1 byte per two significant digits, plus 1.
func numberSize(s string) int {
	s = strings.TrimLeft(s, "+-")
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s = s[:i]
	}
	digits := strings.Replace(s, ".", "", 1)
	digits = strings.TrimLeft(digits, "0")
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		return 2
	}
	return (len(digits)+1)/2 + 1
}
