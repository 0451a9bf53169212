package dynamo

import (
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// update builds an UpdateItem expression, or the names and values of a
// condition or filter. Every attribute goes through a name placeholder, so
// reserved words (status, type) need no care; values are built by the
// caller (av.go), with no reflection.
type update struct {
	set    []string
	add    []string
	remove []string
	names  map[string]string
	values map[string]types.AttributeValue
}

func newUpdate() *update {
	return &update{names: map[string]string{}, values: map[string]types.AttributeValue{}}
}

// Name returns a placeholder for attr, for conditions and expressions.
func (u *update) Name(attr string) string {
	ph := "#" + attr
	u.names[ph] = attr
	return ph
}

// Value returns a placeholder for v.
func (u *update) Value(v types.AttributeValue) string {
	ph := ":v" + strconv.Itoa(len(u.values))
	u.values[ph] = v
	return ph
}

// Set sets attr to v.
func (u *update) Set(attr string, v types.AttributeValue) *update {
	u.set = append(u.set, u.Name(attr)+" = "+u.Value(v))
	return u
}

// SetOrRemove sets attr to v when present holds, and removes it otherwise,
// so that an optional attribute is absent rather than null.
func (u *update) SetOrRemove(attr string, present bool, v types.AttributeValue) *update {
	if present {
		return u.Set(attr, v)
	}
	return u.Remove(attr)
}

// SetIfAbsent sets attr to v unless it has a value.
func (u *update) SetIfAbsent(attr string, v types.AttributeValue) *update {
	n := u.Name(attr)
	u.set = append(u.set, n+" = if_not_exists("+n+", "+u.Value(v)+")")
	return u
}

// Increment adds n to the number attr (ADD: from 0 when absent).
func (u *update) Increment(attr string, n int64) *update {
	u.add = append(u.add, u.Name(attr)+" "+u.Value(avN(n)))
	return u
}

// Bump adds n to the number attr, which must exist (SET a = a + n: a
// webhook's version).
func (u *update) Bump(attr string, n int64) *update {
	name := u.Name(attr)
	u.set = append(u.set, name+" = "+name+" + "+u.Value(avN(n)))
	return u
}

// Remove removes each attr.
func (u *update) Remove(attrs ...string) *update {
	for _, a := range attrs {
		u.remove = append(u.remove, u.Name(a))
	}
	return u
}

func (u *update) Expression() string {
	var parts []string
	if len(u.set) > 0 {
		parts = append(parts, "SET "+strings.Join(u.set, ", "))
	}
	if len(u.add) > 0 {
		parts = append(parts, "ADD "+strings.Join(u.add, ", "))
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
