package dynamo

import (
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// update builds an UpdateItem expression, or the names and values of a
// condition or filter. Every attribute goes through a name placeholder, so
// reserved words (status, type) need no care; values are built by the
// caller (av.go), with no reflection. It is on every attempt's path, so the
// expression is appended to two buffers and the placeholders come from
// tables rather than being formatted each time.
type update struct {
	set    []byte
	add    []byte
	remove []byte
	names  map[string]string
	values map[string]types.AttributeValue
}

func newUpdate() *update {
	return &update{names: make(map[string]string, 24), values: make(map[string]types.AttributeValue, 16)}
}

// valuePlaceholders are ":v0" to ":v31"; more are formatted.
var valuePlaceholders = func() []string {
	ph := make([]string, 32)
	for i := range ph {
		ph[i] = ":v" + strconv.Itoa(i)
	}
	return ph
}()

// namePlaceholders are "#" and each attribute a call item has.
var namePlaceholders = func() map[string]string {
	ph := map[string]string{}
	for _, a := range []string{"PK", "SK", "GSI2PK", "GSI2SK", attrWebhook, attrEvent, attrEntityType, attrEventType,
		attrStatus, attrAttemptCount, attrAutoRetries, attrNextAuto, attrNextRetry, attrLastSent, attrReqURL,
		attrReqHeaders, attrReqSig, attrReqBody, attrReqTrunc, attrRespStatus, attrRespHeaders, attrRespBody,
		attrRespTrunc, attrAttempts, attrResendID, attrResendAt, attrLeaseID, attrLeaseUntil, attrRecorded, attrExpires} {
		ph[a] = "#" + a
	}
	return ph
}()

// Name returns a placeholder for attr, for conditions and expressions.
func (u *update) Name(attr string) string {
	ph, ok := namePlaceholders[attr]
	if !ok {
		ph = "#" + attr
	}
	u.names[ph] = attr
	return ph
}

// Value returns a placeholder for v.
func (u *update) Value(v types.AttributeValue) string {
	var ph string
	if n := len(u.values); n < len(valuePlaceholders) {
		ph = valuePlaceholders[n]
	} else {
		ph = ":v" + strconv.Itoa(n)
	}
	u.values[ph] = v
	return ph
}

// Set sets attr to v.
func (u *update) Set(attr string, v types.AttributeValue) *update {
	if len(u.set) > 0 {
		u.set = append(u.set, ", "...)
	}
	u.set = append(u.set, u.Name(attr)...)
	u.set = append(u.set, " = "...)
	u.set = append(u.set, u.Value(v)...)
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

// setPackedOrRemove sets attr to text, packed (packedText), or removes it
// where text is nil.
func (u *update) setPackedOrRemove(attr string, text *string) error {
	if text == nil {
		u.Remove(attr)
		return nil
	}
	v, err := packedText(*text).MarshalDynamoDBAttributeValue()
	if err != nil {
		return err
	}
	u.Set(attr, v)
	return nil
}

// Remove removes attr.
func (u *update) Remove(attr string) *update {
	if len(u.remove) > 0 {
		u.remove = append(u.remove, ", "...)
	}
	u.remove = append(u.remove, u.Name(attr)...)
	return u
}

// RemoveAll removes each attr.
func (u *update) RemoveAll(attrs ...string) *update {
	for _, a := range attrs {
		u.Remove(a)
	}
	return u
}

// SetIfAbsent sets attr to v unless it has a value.
func (u *update) SetIfAbsent(attr string, v types.AttributeValue) *update {
	if len(u.set) > 0 {
		u.set = append(u.set, ", "...)
	}
	n := u.Name(attr)
	u.set = append(u.set, n+" = if_not_exists("+n+", "+u.Value(v)+")"...)
	return u
}

// Increment adds n to the number attr (ADD: from 0 when absent).
func (u *update) Increment(attr string, n int64) *update {
	if len(u.add) > 0 {
		u.add = append(u.add, ", "...)
	}
	u.add = append(u.add, u.Name(attr)+" "+u.Value(avN(n))...)
	return u
}

// Bump adds n to the number attr, which must exist (SET a = a + n: a
// webhook's version).
func (u *update) Bump(attr string, n int64) *update {
	if len(u.set) > 0 {
		u.set = append(u.set, ", "...)
	}
	name := u.Name(attr)
	u.set = append(u.set, name+" = "+name+" + "+u.Value(avN(n))...)
	return u
}

func (u *update) Expression() string {
	b := make([]byte, 0, len(u.set)+len(u.add)+len(u.remove)+16)
	if len(u.set) > 0 {
		b = append(append(b, "SET "...), u.set...)
	}
	if len(u.add) > 0 {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(append(b, "ADD "...), u.add...)
	}
	if len(u.remove) > 0 {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(append(b, "REMOVE "...), u.remove...)
	}
	return string(b)
}

func (u *update) Values() map[string]types.AttributeValue {
	if len(u.values) == 0 {
		return nil
	}
	return u.values
}
