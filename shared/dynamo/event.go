package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/shared/herald"
)

// eventItem remembers an event and the calls it produced: ingest's
// idempotency key. It expires with the calls.
type eventItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Type      string `dynamodbav:"type"`
	Calls     string `dynamodbav:"calls"`
	Queued    bool   `dynamodbav:"queued"`
	CreatedAt string `dynamodbav:"created_at"`
	ExpiresAt int64  `dynamodbav:"expires_at"`
}

// ClaimEvent records that an event produces the given calls, unless the event
// was recorded before: then duplicate is true, recorded holds the calls
// recorded the first time (the ones that count), and queued says whether
// their jobs were all queued then.
func (s *Store) ClaimEvent(ctx context.Context, project, eventID string, calls []herald.CallRef, expires time.Time) (recorded []herald.CallRef, duplicate, queued bool, err error) {
	if err := checkProject(project); err != nil {
		return nil, false, false, err
	}
	encoded, err := json.Marshal(calls)
	if err != nil {
		return nil, false, false, fmt.Errorf("encode calls of event %s: %w", eventID, err)
	}
	now := s.clock.Now()
	item, err := attributevalue.MarshalMap(eventItem{
		PK: eventKey(project, eventID), SK: "E", Type: "event", Calls: string(encoded),
		CreatedAt: now.Format(timeFormat), ExpiresAt: expires.Unix(),
	})
	if err != nil {
		return nil, false, false, fmt.Errorf("marshal event %s: %w", eventID, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if err == nil {
		return calls, false, false, nil
	}
	if !isConditionFailed(err) {
		return nil, false, false, classify(err, "put event %s", eventID)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(eventKey(project, eventID), "E"),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, true, false, classify(err, "get event %s", eventID)
	}
	var it eventItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, true, false, fmt.Errorf("unmarshal event %s: %w", eventID, err)
	}
	if err := json.Unmarshal([]byte(it.Calls), &recorded); err != nil {
		return nil, true, false, fmt.Errorf("decode calls of event %s: %w", eventID, err)
	}
	return recorded, true, it.Queued, nil
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
			":old": &types.AttributeValueMemberS{Value: string(before)},
			":new": &types.AttributeValueMemberS{Value: string(after)},
		},
	})
	if isConditionFailed(err) {
		return herald.Errorf(herald.ECONFLICT, "event %s was changed by another ingest", eventID)
	}
	return classify(err, "replan event %s", eventID)
}

// MarkEventQueued records that every job of an event is on the queue, so
// that the event sent again queues nothing.
func (s *Store) MarkEventQueued(ctx context.Context, project, eventID string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.table),
		Key:              key(eventKey(project, eventID), "E"),
		UpdateExpression: aws.String("SET queued = :t"),
		// Never create a stub: an event item without its calls would make
		// the event, sent again, look done while it produced nothing.
		ConditionExpression: aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":t": &types.AttributeValueMemberBOOL{Value: true},
		},
	})
	if isConditionFailed(err) {
		return fmt.Errorf("mark event %s queued: the event is not recorded", eventID)
	}
	return classify(err, "mark event %s queued", eventID)
}
