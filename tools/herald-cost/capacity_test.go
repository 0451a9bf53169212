package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// The sizes follow the DynamoDB developer guide's "Item sizes and formats".
func TestItemSize(t *testing.T) {
	tests := map[string]struct {
		item item
		want int
	}{
		"string":                {item{"PK": s("P#205")}, 2 + 5},
		"utf-8 bytes":           {item{"name": s("héllo")}, 4 + 6},
		"number digits":         {item{"n": n("12345")}, 1 + 3 + 1},
		"number trims zeros":    {item{"n": n("-001200.500")}, 1 + 3 + 1}, // 12005
		"zero":                  {item{"n": n("0")}, 1 + 2},
		"bool and null":         {item{"ok": &types.AttributeValueMemberBOOL{Value: true}, "x": &types.AttributeValueMemberNULL{Value: true}}, 3 + 2},
		"binary is raw bytes":   {item{"b": &types.AttributeValueMemberB{Value: []byte{1, 2, 3}}}, 1 + 3},
		"map: 3 + 1 an element": {item{"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"a": s("xy")}}}, 1 + 3 + 1 + 1 + 2},
		"list":                  {item{"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("ab"), s("c")}}}, 1 + 3 + (1 + 2) + (1 + 1)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := itemSize(tc.item); got != tc.want {
				t.Errorf("itemSize = %d; want %d", got, tc.want)
			}
		})
	}
}

func TestRequestUnits(t *testing.T) {
	tests := map[string]struct{ got, want float64 }{
		"small write is 1":         {writeUnits(10), 1},
		"1 KB write is 1":          {writeUnits(1024), 1},
		"just over 1 KB is 2":      {writeUnits(1025), 2},
		"5.7 KB write is 6":        {writeUnits(5750), 6},
		"consistent 4 KB read":     {readUnits(4096, true), 1},
		"consistent 4 KB + 1":      {readUnits(4097, true), 2},
		"eventual read is half":    {readUnits(100, false), 0.5},
		"an empty read still cost": {readUnits(0, true), 1},
	}
	for name, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %v; want %v", name, tc.got, tc.want)
		}
	}
}

func TestIndexWriteUnits(t *testing.T) {
	c := newCapacity(nil, []string{"PK", "SK"}, nil)
	gsi := index{Name: "GSI1", Keys: []string{"GSI1PK", "GSI1SK"}, Projection: "INCLUDE", Include: []string{"status"}}
	base := item{"PK": s("C#1"), "SK": s("C"), "GSI1PK": s("L#205#3"), "GSI1SK": s("01J"), "status": s("pending"), "body": s(strings.Repeat("x", 3000))}
	with := func(k string, v types.AttributeValue) item {
		out := item{}
		for kk, vv := range base {
			out[kk] = vv
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	tests := map[string]struct {
		old, now item
		want     float64
	}{
		"new item puts an entry":           {nil, base, 1},
		"unprojected change costs nothing": {base, with("body", s("y")), 0},
		"projected change rewrites":        {base, with("status", s("success")), 1},
		"key change deletes and puts":      {base, with("GSI1SK", s("01K")), 2},
		"losing the key deletes":           {base, with("GSI1PK", nil), 1},
		"no entry either side":             {with("GSI1PK", nil), with("GSI1PK", nil), 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := indexWriteUnits(c.project(gsi, tc.old), c.project(gsi, tc.now), gsi); got != tc.want {
				t.Errorf("index WRU = %v; want %v", got, tc.want)
			}
		})
	}
	// The entry holds the table's keys, the index keys and INCLUDE
	// attributes, not the body.
	if e := c.project(gsi, base); len(e) != 5 || e["body"] != nil {
		t.Errorf("projection = %v; want PK, SK, GSI1PK, GSI1SK, status", e)
	}
}
