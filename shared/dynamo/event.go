package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/shared/herald"
)

// An event item is ingest's idempotency key and the one copy of the event's
// payload its calls share: E#<project>#<event_id>, SK "E", with
//
//	c          the calls the event produced: "<webhook id>:<call id>", comma-separated
//	pz         the payload document (herald.MarshalPayload), deflated with payloadDictV1
//	expires_at its TTL, the calls'
//
// Items an older version wrote hold the calls as JSON in `calls`, no payload
// (each of its calls kept a copy; migrate.go moves it here, as `p`, packed
// without a dictionary), and may have `queued`, which nothing reads now.
const (
	attrEventRefs       = "c"
	attrEventPayloadDZ  = "pz"
	attrEventCalls      = "calls" // older items
	attrEventPayload    = "p"     // older items, after migration
	eventPayloadProject = attrEventPayloadDZ + ", " + attrEventPayload
)

// encodeRefs writes an event's calls compactly: ids are ULIDs, so ':' and
// ',' cannot appear in them.
func encodeRefs(refs []herald.CallRef) string {
	var b strings.Builder
	for i, r := range refs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r.WebhookID)
		b.WriteByte(':')
		b.WriteString(r.CallID)
	}
	return b.String()
}

// eventRefs reads an event item's calls, in either encoding.
func eventRefs(it item) ([]herald.CallRef, error) {
	if s, ok := it[attrEventRefs].(*types.AttributeValueMemberS); ok {
		var refs []herald.CallRef
		for _, pair := range strings.Split(s.Value, ",") {
			w, c, ok := strings.Cut(pair, ":")
			if !ok {
				return nil, fmt.Errorf("malformed call %q", pair)
			}
			refs = append(refs, herald.CallRef{WebhookID: w, CallID: c})
		}
		return refs, nil
	}
	var refs []herald.CallRef
	if err := json.Unmarshal([]byte(it.s(attrEventCalls)), &refs); err != nil {
		return nil, err
	}
	return refs, nil
}

// ClaimEvent records that an event produces the given calls, with its
// payload document, unless the event was recorded before: then duplicate
// is true and recorded holds the calls recorded the first time (the ones
// that count).
func (s *Store) ClaimEvent(ctx context.Context, project, eventID string, calls []herald.CallRef, payload []byte, expires time.Time) (recorded []herald.CallRef, duplicate bool, err error) {
	if err := checkProject(project); err != nil {
		return nil, false, err
	}
	packed, err := packPayload(payload)
	if err != nil {
		return nil, false, fmt.Errorf("pack payload of event %s: %w", eventID, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			"PK": avS(eventKey(project, eventID)), "SK": avS("E"),
			attrEventRefs: avS(encodeRefs(calls)), attrEventPayloadDZ: &types.AttributeValueMemberB{Value: packed},
			attrExpires: avN(expires.Unix()),
		},
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if err == nil {
		return calls, false, nil
	}
	if !isConditionFailed(err) {
		return nil, false, classify(err, "put event %s", eventID)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:            aws.String(s.table),
		Key:                  key(eventKey(project, eventID), "E"),
		ConsistentRead:       aws.Bool(true),
		ProjectionExpression: aws.String(attrEventRefs + ", " + attrEventCalls),
	})
	if err != nil {
		return nil, true, classify(err, "get event %s", eventID)
	}
	if recorded, err = eventRefs(out.Item); err != nil {
		return nil, true, fmt.Errorf("decode calls of event %s: %w", eventID, err)
	}
	return recorded, true, nil
}

// ReplanEvent replaces the calls an event records, on the condition that
// they are still those ingest read (old): ECONFLICT if another ingest of the
// event changed them meanwhile.
func (s *Store) ReplanEvent(ctx context.Context, project, eventID string, old, calls []herald.CallRef) error {
	oldJSON, err := json.Marshal(old) // as an older version recorded them
	if err != nil {
		return fmt.Errorf("encode calls of event %s: %w", eventID, err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 key(eventKey(project, eventID), "E"),
		UpdateExpression:    aws.String("SET c = :new REMOVE calls"),
		ConditionExpression: aws.String("c = :old OR calls = :oldjson"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":old": avS(encodeRefs(old)), ":oldjson": avS(string(oldJSON)), ":new": avS(encodeRefs(calls)),
		},
	})
	if isConditionFailed(err) {
		return herald.Errorf(herald.ECONFLICT, "event %s was changed by another ingest", eventID)
	}
	return classify(err, "replan event %s", eventID)
}

// EventPayload reads an event's payload document. An event item is written
// before its calls and never changes, so an eventually consistent read
// serves, but for a read so soon after the write that it misses it.
func (s *Store) EventPayload(ctx context.Context, project, eventID string) (herald.Payload, error) {
	for _, consistent := range []bool{false, true} {
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:            aws.String(s.table),
			Key:                  key(eventKey(project, eventID), "E"),
			ConsistentRead:       aws.Bool(consistent),
			ProjectionExpression: aws.String(eventPayloadProject),
		})
		if err != nil {
			return herald.Payload{}, classify(err, "get payload of event %s", eventID)
		}
		if out.Item == nil {
			continue
		}
		return decodeEventPayload(eventID, out.Item)
	}
	return herald.Payload{}, herald.Errorf(herald.ENOTFOUND, "event %s not found", eventID)
}

// EventPayloads reads the payloads of several events of a project, each
// once; an event that is gone is absent from the answer.
func (s *Store) EventPayloads(ctx context.Context, project string, eventIDs []string) (map[string]herald.Payload, error) {
	out := map[string]herald.Payload{}
	var keys []map[string]types.AttributeValue
	seen := map[string]bool{}
	for _, id := range eventIDs {
		if !seen[id] {
			seen[id] = true
			keys = append(keys, key(eventKey(project, id), "E"))
		}
	}
	for start := 0; start < len(keys); start += 100 {
		items, err := s.batchGet(ctx, keys[start:min(start+100, len(keys))], false, "PK, "+eventPayloadProject)
		if err != nil {
			return nil, err
		}
		for _, raw := range items {
			id := item(raw).s("PK")[len(eventKey(project, "")):]
			p, err := decodeEventPayload(id, raw)
			if err != nil {
				return nil, err
			}
			out[id] = p
		}
	}
	return out, nil
}

func decodeEventPayload(eventID string, raw map[string]types.AttributeValue) (herald.Payload, error) {
	if b, ok := raw[attrEventPayloadDZ].(*types.AttributeValueMemberB); ok {
		doc, err := unpackPayload(b.Value)
		if err != nil {
			return herald.Payload{}, fmt.Errorf("payload of event %s: %w", eventID, err)
		}
		return herald.ParsePayload(doc)
	}
	doc, ok, err := item(raw).packed(attrEventPayload)
	if err != nil {
		return herald.Payload{}, fmt.Errorf("payload of event %s: %w", eventID, err)
	}
	if !ok {
		return herald.Payload{}, fmt.Errorf("event %s has no payload (written by an older version, not migrated)", eventID)
	}
	return herald.ParsePayload([]byte(doc))
}
