package dynamo

import (
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute values built and read by hand: the call, event and job paths run
// on every delivery, and attributevalue's reflection was a good part of
// their CPU (docs/performance.md).

func avS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func avN(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func avBool(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }

func avMap(m map[string]string) types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		out[k] = avS(v)
	}
	return &types.AttributeValueMemberM{Value: out}
}

// item reads attributes of an item by name, leniently: a missing or
// mistyped attribute reads as its zero value.
type item map[string]types.AttributeValue

func (it item) s(name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func (it item) has(name string) bool {
	_, ok := it[name]
	return ok && !isNull(it[name])
}

func isNull(v types.AttributeValue) bool {
	_, null := v.(*types.AttributeValueMemberNULL)
	return null
}

// n reads a number attribute; ok is false when it is absent or not a whole
// number.
func (it item) n(name string) (int64, bool) {
	v, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	x, err := strconv.ParseInt(v.Value, 10, 64)
	return x, err == nil
}

func (it item) bool(name string) bool {
	v, ok := it[name].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

func (it item) strMap(name string) map[string]string {
	v, ok := it[name].(*types.AttributeValueMemberM)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(v.Value))
	for k, e := range v.Value {
		if s, ok := e.(*types.AttributeValueMemberS); ok {
			out[k] = s.Value
		}
	}
	return out
}

// packed reads a packedText attribute (a string, or deflated binary).
func (it item) packed(name string) (string, bool, error) {
	v, ok := it[name]
	if !ok || isNull(v) {
		return "", false, nil
	}
	var p packedText
	if err := p.UnmarshalDynamoDBAttributeValue(v); err != nil {
		return "", true, err
	}
	return string(p), true, nil
}
