package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/shared/herald"
)

// An event item is ingest's idempotency key and the one copy of the event's
// payload its calls share: E#<project>#<event_id>, SK "E", with
//
//	calls      the calls the event produced, JSON [{webhook_id, call_id}]
//	p          the payload document (herald.MarshalPayload), packed
//	expires_at its TTL, the calls'
//
// Items an older version wrote have no p (each of its calls kept a copy;
// migrate.go moves it here) and may have `queued`, which nothing reads now.
const (
	attrEventCalls   = "calls"
	attrEventPayload = "p"
)

// ClaimEvent records that an event produces the given calls, with its
// payload document, unless the event was recorded before: then duplicate
// is true and recorded holds the calls recorded the first time (the ones
// that count).
func (s *Store) ClaimEvent(ctx context.Context, project, eventID string, calls []herald.CallRef, payload []byte, expires time.Time) (recorded []herald.CallRef, duplicate bool, err error) {
	if err := checkProject(project); err != nil {
		return nil, false, err
	}
	encoded, err := json.Marshal(calls)
	if err != nil {
		return nil, false, fmt.Errorf("encode calls of event %s: %w", eventID, err)
	}
	p, err := packedText(payload).MarshalDynamoDBAttributeValue()
	if err != nil {
		return nil, false, fmt.Errorf("pack payload of event %s: %w", eventID, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			"PK": avS(eventKey(project, eventID)), "SK": avS("E"),
			attrEventCalls: avS(string(encoded)), attrEventPayload: p, attrExpires: avN(expires.Unix()),
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
		ProjectionExpression: aws.String(attrEventCalls),
	})
	if err != nil {
		return nil, true, classify(err, "get event %s", eventID)
	}
	if err := json.Unmarshal([]byte(item(out.Item).s(attrEventCalls)), &recorded); err != nil {
		return nil, true, fmt.Errorf("decode calls of event %s: %w", eventID, err)
	}
	return recorded, true, nil
}

// ReplanEvent replaces the calls an event records, on the condition that
// they are still those ingest read (old): ECONFLICT if another ingest of the
// event changed them meanwhile.
func (s *Store) ReplanEvent(ctx context.Context, project, eventID string, old, calls []herald.CallRef) error {
	before, err := json.Marshal(old)
	if err != nil {
		return fmt.Errorf("encode calls of event %s: %w", eventID, err)
	}
	after, err := json.Marshal(calls)
	if err != nil {
		return fmt.Errorf("encode calls of event %s: %w", eventID, err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 key(eventKey(project, eventID), "E"),
		UpdateExpression:    aws.String("SET calls = :new"),
		ConditionExpression: aws.String("calls = :old"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":old": avS(string(before)),
			":new": avS(string(after)),
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
			ProjectionExpression: aws.String(attrEventPayload),
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
		items, err := s.batchGet(ctx, keys[start:min(start+100, len(keys))], false, "PK, "+attrEventPayload)
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
	doc, ok, err := item(raw).packed(attrEventPayload)
	if err != nil {
		return herald.Payload{}, fmt.Errorf("payload of event %s: %w", eventID, err)
	}
	if !ok {
		return herald.Payload{}, fmt.Errorf("event %s has no payload (written by an older version, not migrated)", eventID)
	}
	return herald.ParsePayload([]byte(doc))
}
