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

// callItem is a call as stored. The event payload and the attempt history
// are JSON strings: always read and written whole.
type callItem struct {
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	GSI1PK string `dynamodbav:"GSI1PK"`
	GSI1SK string `dynamodbav:"GSI1SK"`
	// Set only while a retry is parked for the sweeper.
	GSI2PK string `dynamodbav:"GSI2PK,omitempty"`
	GSI2SK string `dynamodbav:"GSI2SK,omitempty"`

	Type       string     `dynamodbav:"type"`
	ID         string     `dynamodbav:"id"`
	Project    string     `dynamodbav:"project"`
	WebhookID  string     `dynamodbav:"webhook_id"`
	EntityType string     `dynamodbav:"entity_type"`
	EventType  string     `dynamodbav:"event_type"`
	CreatedAt  string     `dynamodbav:"created_at"`
	Payload    packedText `dynamodbav:"payload"`

	Status               string `dynamodbav:"status"`
	AttemptedAutoRetries int    `dynamodbav:"attempted_auto_retries"`
	LastSentAt           string `dynamodbav:"last_sent_at,omitempty"`
	NextRetryAt          string `dynamodbav:"next_retry_at,omitempty"`

	RequestURL               string            `dynamodbav:"request_url"`
	RequestHeaders           map[string]string `dynamodbav:"request_headers"`
	RequestPayload           packedText        `dynamodbav:"request_payload"`
	RequestPayloadTruncated  bool              `dynamodbav:"request_payload_truncated"`
	ResponseStatus           *int              `dynamodbav:"response_status"`
	ResponseHeaders          map[string]string `dynamodbav:"response_headers"`
	ResponsePayload          *packedText       `dynamodbav:"response_payload"`
	ResponsePayloadTruncated bool              `dynamodbav:"response_payload_truncated"`
	Attempts                 string            `dynamodbav:"attempts"`
	AttemptCount             int               `dynamodbav:"attempt_count"`

	NextAuto   *int   `dynamodbav:"next_auto"`
	ResendID   string `dynamodbav:"resend_id,omitempty"`
	ResendAt   int64  `dynamodbav:"resend_at,omitempty"`
	LeaseID    string `dynamodbav:"lease_id,omitempty"`
	LeaseUntil int64  `dynamodbav:"lease_until,omitempty"`

	// ExpiresAt is the TTL attribute: epoch seconds.
	ExpiresAt int64 `dynamodbav:"expires_at"`
}

func formatTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(herald.TimeFormat)
}

func parseTime(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(herald.TimeFormat, s)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func toCallItem(c *herald.Call) (callItem, error) {
	payload, err := json.Marshal(c.Payload)
	if err != nil {
		return callItem{}, fmt.Errorf("encode payload of call %s: %w", c.ID, err)
	}
	attempts, err := json.Marshal(c.Attempts)
	if err != nil {
		return callItem{}, fmt.Errorf("encode attempts of call %s: %w", c.ID, err)
	}
	it := callItem{
		PK: callKey(c.ProjectID, c.ID), SK: "C",
		GSI1PK: logKey(c.ProjectID, callShard(c.ID)), GSI1SK: c.ID,
		Type: "call", ID: c.ID, Project: c.ProjectID, WebhookID: c.WebhookID,
		EntityType: c.EntityType, EventType: c.EventType,
		CreatedAt: formatTime(&c.CreatedAt), Payload: packedText(payload),
		Status: string(c.Status), AttemptedAutoRetries: c.AttemptedAutoRetries,
		LastSentAt: formatTime(c.LastSentAt), NextRetryAt: formatTime(c.NextRetryAt),
		RequestURL: c.RequestURL, RequestHeaders: c.RequestHeaders, RequestPayload: packedText(c.RequestPayload),
		RequestPayloadTruncated: c.RequestPayloadTruncated,
		ResponseStatus:          c.ResponseStatus, ResponseHeaders: c.ResponseHeaders, ResponsePayload: pack(c.ResponsePayload),
		ResponsePayloadTruncated: c.ResponsePayloadTruncated,
		Attempts:                 string(attempts), AttemptCount: c.AttemptCount,
		NextAuto: c.NextAuto, ResendID: c.ResendID,
		ExpiresAt: c.ExpiresAt.Unix(),
	}
	if it.RequestHeaders == nil {
		it.RequestHeaders = map[string]string{}
	}
	return it, nil
}

func fromCallItem(item map[string]types.AttributeValue) (*herald.Call, error) {
	it, err := unmarshalCallItem(item)
	if err != nil {
		return nil, err
	}
	return it.call()
}

func unmarshalCallItem(item map[string]types.AttributeValue) (*callItem, error) {
	var it callItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return nil, fmt.Errorf("unmarshal call: %w", err)
	}
	return &it, nil
}

// call is the call an item stores.
func (it *callItem) call() (*herald.Call, error) {
	c := &herald.Call{
		ID: it.ID, ProjectID: it.Project, WebhookID: it.WebhookID,
		EntityType: it.EntityType, EventType: it.EventType,
		Status: herald.Status(it.Status), AttemptedAutoRetries: it.AttemptedAutoRetries,
		RequestURL: it.RequestURL, RequestHeaders: it.RequestHeaders, RequestPayload: string(it.RequestPayload),
		RequestPayloadTruncated: it.RequestPayloadTruncated,
		ResponseStatus:          it.ResponseStatus, ResponseHeaders: it.ResponseHeaders, ResponsePayload: unpack(it.ResponsePayload),
		ResponsePayloadTruncated: it.ResponsePayloadTruncated,
		AttemptCount:             it.AttemptCount, NextAuto: it.NextAuto, ResendID: it.ResendID,
		Parked:    it.GSI2PK != "",
		ExpiresAt: time.Unix(it.ExpiresAt, 0).UTC(),
	}
	if err := json.Unmarshal([]byte(it.Payload), &c.Payload); err != nil {
		return nil, fmt.Errorf("decode payload of call %s: %w", it.ID, err)
	}
	if it.Attempts != "" {
		if err := json.Unmarshal([]byte(it.Attempts), &c.Attempts); err != nil {
			return nil, fmt.Errorf("decode attempts of call %s: %w", it.ID, err)
		}
	}
	created, err := parseTime(it.CreatedAt)
	if err != nil || created == nil {
		return nil, fmt.Errorf("call %s created_at %q: %v", it.ID, it.CreatedAt, err)
	}
	c.CreatedAt = *created
	if c.LastSentAt, err = parseTime(it.LastSentAt); err != nil {
		return nil, fmt.Errorf("call %s last_sent_at: %w", it.ID, err)
	}
	if c.NextRetryAt, err = parseTime(it.NextRetryAt); err != nil {
		return nil, fmt.Errorf("call %s next_retry_at: %w", it.ID, err)
	}
	return c, nil
}

// CreateCall stores a new call unless one with its id exists; created says
// which. Calls are created once, by ingest; everything after is an update.
func (s *Store) CreateCall(ctx context.Context, c *herald.Call) (created bool, err error) {
	if err := checkProject(c.ProjectID); err != nil {
		return false, err
	}
	if !herald.IsID(c.ID) {
		return false, herald.Errorf(herald.EINVALID, "call id %q is not a ULID", truncateID(c.ID))
	}
	it, err := toCallItem(c)
	if err != nil {
		return false, err
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return false, fmt.Errorf("marshal call %s: %w", c.ID, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, classify(err, "put call %s", c.ID)
	}
	return true, nil
}

// GetCall returns a call of a project, or ENOTFOUND. Calls past their
// retention are not found even before DynamoDB's TTL deletes them.
func (s *Store) GetCall(ctx context.Context, project, id string) (*herald.Call, error) {
	if err := lookup(project, id, "webhook call"); err != nil {
		return nil, err
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(callKey(project, id), "C"),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, classify(err, "get call %s", id)
	}
	if out.Item == nil {
		return nil, herald.Errorf(herald.ENOTFOUND, "webhook call %s not found", id)
	}
	c, err := fromCallItem(out.Item)
	if err != nil {
		return nil, err
	}
	if !c.ExpiresAt.After(s.clock.Now()) || !owns(c.ProjectID, c.ID, project, id) {
		return nil, herald.Errorf(herald.ENOTFOUND, "webhook call %s not found", id)
	}
	return c, nil
}
