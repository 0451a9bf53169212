package dynamo

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// update builds an UpdateItem expression. Every attribute goes through a
// name placeholder, so reserved words (status, type) need no care.
type update struct {
	set    []string
	remove []string
	names  map[string]string
	values map[string]types.AttributeValue
	err    error
}

func newUpdate() *update {
	return &update{names: map[string]string{}, values: map[string]types.AttributeValue{}}
}

func (u *update) name(attr string) string {
	ph := "#" + attr
	u.names[ph] = attr
	return ph
}

func (u *update) value(v any) string {
	ph := fmt.Sprintf(":v%d", len(u.values))
	av, err := attributevalue.Marshal(v)
	if err != nil && u.err == nil {
		u.err = fmt.Errorf("marshal %v: %w", v, err)
	}
	u.values[ph] = av
	return ph
}

// Set sets attr to v; a nil pointer or empty string removes it instead, so
// optional attributes are absent rather than null.
func (u *update) Set(attr string, v any) *update {
	if isAbsent(v) {
		return u.Remove(attr)
	}
	u.set = append(u.set, u.name(attr)+" = "+u.value(v))
	return u
}

// SetExpr sets attr to an expression over placeholders made with Value.
func (u *update) SetExpr(attr, expr string) *update {
	u.set = append(u.set, u.name(attr)+" = "+expr)
	return u
}

// Remove removes attr.
func (u *update) Remove(attr string) *update {
	u.remove = append(u.remove, u.name(attr))
	return u
}

// Value returns a placeholder for v, for conditions and SetExpr.
func (u *update) Value(v any) string { return u.value(v) }

// Name returns a placeholder for attr, for conditions and SetExpr.
func (u *update) Name(attr string) string { return u.name(attr) }

func (u *update) Expression() string {
	var parts []string
	if len(u.set) > 0 {
		parts = append(parts, "SET "+strings.Join(u.set, ", "))
	}
	if len(u.remove) > 0 {
		parts = append(parts, "REMOVE "+strings.Join(u.remove, ", "))
	}
	return strings.Join(parts, " ")
}

func (u *update) Values() map[string]types.AttributeValue {
	if len(u.values) == 0 {
		return nil
	}
	return u.values
}

func isAbsent(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case *string:
		return x == nil
	case *int:
		return x == nil
	case packedText:
		return x == ""
	case *packedText:
		return x == nil
	}
	return false
}
