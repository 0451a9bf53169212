package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/shared/herald"
)

// ClaimAttempt takes the lease on the attempt a job names, with a conditional
// write, before anything is sent: an automatic attempt only if it is still
// the one due, a manual one only if its resend is still pending, and either
// only while no other attempt holds the lease. The lease outlives the send
// timeout; if its holder crashes, the attempt can be claimed again once it
// expires, and that resend carries the same webhook-id.
//
// For herald.Stale and herald.Busy the call is returned as it stands, so the caller can see
// why.
func (s *Store) ClaimAttempt(ctx context.Context, job herald.Job, leaseID string, lease time.Duration) (*herald.Call, herald.ClaimResult, error) {
	if lookup(job.ProjectID, job.CallID, "webhook call") != nil {
		return nil, herald.Gone, nil // no call has such a key
	}
	now := s.clock.Now()
	u := newUpdate()
	u.Set("lease_id", leaseID).
		Set("lease_until", now.Add(lease).UnixMilli()).
		SetExpr("attempt_count", u.Name("attempt_count")+" + "+u.Value(1))
	free := fmt.Sprintf("(attribute_not_exists(%s) OR %s < %s)", u.Name("lease_until"), u.Name("lease_until"), u.Value(now.UnixMilli()))
	var cond string
	if job.Trigger == herald.TriggerManual {
		cond = u.Name("resend_id") + " = " + u.Value(job.ResendID)
	} else {
		cond = u.Name("next_auto") + " = " + u.Value(job.Retry)
	}
	cond += " AND " + free
	if u.err != nil {
		return nil, herald.Gone, u.err
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(callKey(job.ProjectID, job.CallID), "C"),
		UpdateExpression:          aws.String(u.Expression()),
		ConditionExpression:       aws.String("attribute_exists(PK) AND " + cond),
		ExpressionAttributeNames:  u.names,
		ExpressionAttributeValues: u.Values(),
		ReturnValues:              types.ReturnValueAllNew,
		// Why not, if refused: the item as the condition saw it.
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		c, err := fromCallItem(out.Attributes)
		if err != nil {
			return nil, herald.Gone, err
		}
		return c, herald.Claimed, nil
	}
	item, refused := refusedItem(err)
	if !refused {
		return nil, herald.Gone, classify(err, "claim attempt on call %s", job.CallID)
	}
	if item == nil {
		return nil, herald.Gone, nil
	}
	it, err := unmarshalCallItem(item)
	if err != nil {
		return nil, herald.Gone, err
	}
	c, err := it.call()
	if err != nil {
		return nil, herald.Gone, err
	}
	held := it.LeaseUntil >= now.UnixMilli()
	if held && it.LeaseID == leaseID {
		// Our own claim: its first answer was lost and the SDK sent it
		// again, which the condition refused.
		return c, herald.Claimed, nil
	}
	wanted := c.ResendID == job.ResendID && job.Trigger == herald.TriggerManual ||
		job.Trigger != herald.TriggerManual && c.NextAuto != nil && *c.NextAuto == job.Retry
	if wanted && held {
		return c, herald.Busy, nil
	}
	return c, herald.Stale, nil
}

// RecordAttempt stores the outcome of an attempt the lease holder made: the
// call's new status and schedule, its latest request and response, and its
// attempt history. It fails with ECONFLICT if the lease was lost meanwhile
// (the attempt ran past its lease and someone else claimed the call).
//
// The record names its lease (recorded_lease), so that a record whose first
// answer was lost, and which the SDK sent again, recognizes its own write
// when the condition refuses the second: without that, the attempt would
// count as lost and the call's next retry would never be queued.
//
// A manual attempt clears the resend it served, and only that one: if
// another resend was asked for meanwhile, it stays pending (the record is
// written again without the clearing).
func (s *Store) RecordAttempt(ctx context.Context, c *herald.Call, leaseID string, rec herald.Recording) error {
	err := s.recordAttempt(ctx, c, leaseID, rec, rec.ServedResend != "")
	if errors.Is(err, errResendReplaced) {
		err = s.recordAttempt(ctx, c, leaseID, rec, false)
	}
	return err
}

// errResendReplaced is a record refused because the call's pending resend
// is no longer the one the attempt served.
var errResendReplaced = errors.New("another resend was asked for")

func (s *Store) recordAttempt(ctx context.Context, c *herald.Call, leaseID string, rec herald.Recording, clearResend bool) error {
	attempts := c.Attempts
	if len(attempts) > herald.MaxStoredAttempts {
		attempts = attempts[len(attempts)-herald.MaxStoredAttempts:]
	}
	encoded, err := json.Marshal(attempts)
	if err != nil {
		return fmt.Errorf("encode attempts of call %s: %w", c.ID, err)
	}
	u := newUpdate()
	u.Set("status", string(c.Status)).
		Set("attempted_auto_retries", c.AttemptedAutoRetries).
		Set("last_sent_at", formatTime(c.LastSentAt)).
		Set("next_retry_at", formatTime(c.NextRetryAt)).
		Set("next_auto", c.NextAuto).
		Set("request_url", c.RequestURL).
		Set("request_headers", nonNil(c.RequestHeaders)).
		Set("request_payload", packedText(c.RequestPayload)).
		Set("request_payload_truncated", c.RequestPayloadTruncated).
		Set("response_status", c.ResponseStatus).
		Set("response_headers", c.ResponseHeaders).
		Set("response_payload", pack(c.ResponsePayload)).
		Set("response_payload_truncated", c.ResponsePayloadTruncated).
		Set("attempts", string(encoded)).
		Set("recorded_lease", leaseID).
		Remove("lease_id").Remove("lease_until")
	if clearResend {
		u.Remove("resend_id").Remove("resend_at")
	}
	if rec.Park && c.NextAuto != nil && c.NextRetryAt != nil {
		u.Set("GSI2PK", dueKey(c.ID)).Set("GSI2SK", dueSK(*c.NextRetryAt, *c.NextAuto, c.ID))
	} else {
		u.Remove("GSI2PK").Remove("GSI2SK")
	}
	cond := u.Name("lease_id") + " = " + u.Value(leaseID)
	if clearResend {
		cond += " AND " + u.Name("resend_id") + " = " + u.Value(rec.ServedResend)
	}
	if u.err != nil {
		return u.err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(callKey(c.ProjectID, c.ID), "C"),
		UpdateExpression:          aws.String(u.Expression()),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  u.names,
		ExpressionAttributeValues: u.Values(),
		// If refused, the item as the condition saw it says whether the
		// write that was refused was this one's first copy.
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if item, refused := refusedItem(err); refused {
		switch {
		case stringAttr(item, "recorded_lease") == leaseID:
			return nil
		case stringAttr(item, "lease_id") == leaseID && clearResend:
			return errResendReplaced
		}
		return herald.Errorf(herald.ECONFLICT, "lost the lease on call %s", c.ID)
	}
	return classify(err, "record attempt on call %s", c.ID)
}

// resendTakeover is how long a pending resend blocks another: long enough for
// its message to be delivered, short enough that a resend whose message was
// lost does not block the button for good.
const resendTakeover = 5 * time.Minute

// RequestResend marks a manual resend as pending, unless one already is:
// queued is false then, and the pending one serves both requests.
func (s *Store) RequestResend(ctx context.Context, project, id, resendID string) (queued bool, err error) {
	if err := lookup(project, id, "webhook call"); err != nil {
		return false, err
	}
	now := s.clock.Now()
	u := newUpdate()
	u.Set("resend_id", resendID).Set("resend_at", now.UnixMilli())
	cond := fmt.Sprintf("attribute_exists(PK) AND %s > %s AND (attribute_not_exists(%s) OR %s < %s)",
		u.Name("expires_at"), u.Value(now.Unix()),
		u.Name("resend_id"), u.Name("resend_at"), u.Value(now.Add(-resendTakeover).UnixMilli()))
	if u.err != nil {
		return false, u.err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(callKey(project, id), "C"),
		UpdateExpression:          aws.String(u.Expression()),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  u.names,
		ExpressionAttributeValues: u.Values(),
	})
	if err == nil {
		return true, nil
	}
	if !isConditionFailed(err) {
		return false, classify(err, "request resend of call %s", id)
	}
	if _, err := s.GetCall(ctx, project, id); err != nil {
		return false, err
	}
	return false, nil
}

func dueSK(due time.Time, retry int, id string) string {
	return due.UTC().Format(herald.TimeFormat) + "#" + strconv.Itoa(retry) + "#" + id
}

// DueShards is how many partitions of the due-retries index hold parked
// retries; a sweep reads them in parallel.
func (s *Store) DueShards() int { return dueShards }

// DueRetries returns up to limit parked retries of one due shard that are
// due before until, in due order, starting after the retry after (nil: from
// the first). A sweep pages through a shard with it, so that a retry it has
// queued but not yet unparked is not read twice.
func (s *Store) DueRetries(ctx context.Context, shard int, until time.Time, after *herald.ParkedRetry, limit int) ([]herald.ParkedRetry, error) {
	pk := duePrefix + strconv.Itoa(shard)
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		IndexName:              aws.String("GSI2"),
		KeyConditionExpression: aws.String("GSI2PK = :pk AND GSI2SK < :bound"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":    &types.AttributeValueMemberS{Value: pk},
			":bound": &types.AttributeValueMemberS{Value: until.UTC().Format(herald.TimeFormat) + "$"}, // '$' sorts after '#'
		},
		Limit: aws.Int32(int32(min(limit, 1000))), // #nosec G115 -- at most 1,000
	}
	if after != nil {
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			"PK":     &types.AttributeValueMemberS{Value: callKey(after.ProjectID, after.CallID)},
			"SK":     &types.AttributeValueMemberS{Value: "C"},
			"GSI2PK": &types.AttributeValueMemberS{Value: pk},
			"GSI2SK": &types.AttributeValueMemberS{Value: after.Key},
		}
	}
	res, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, classify(err, "query due retries")
	}
	out := make([]herald.ParkedRetry, 0, len(res.Items))
	for _, item := range res.Items {
		r, err := parkedFromItem(item)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func parkedFromItem(item map[string]types.AttributeValue) (herald.ParkedRetry, error) {
	pk, _ := item["PK"].(*types.AttributeValueMemberS)
	sk, _ := item["GSI2SK"].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return herald.ParkedRetry{}, fmt.Errorf("due index item without keys")
	}
	project, id, ok := callRefFromKey(pk.Value)
	parts := strings.Split(sk.Value, "#")
	if !ok || len(parts) != 3 {
		return herald.ParkedRetry{}, fmt.Errorf("malformed due index item %q", sk.Value)
	}
	due, err := time.Parse(herald.TimeFormat, parts[0])
	if err != nil {
		return herald.ParkedRetry{}, fmt.Errorf("due index item %q: %w", sk.Value, err)
	}
	retry, err := strconv.Atoi(parts[1])
	if err != nil {
		return herald.ParkedRetry{}, fmt.Errorf("due index item %q: %w", sk.Value, err)
	}
	return herald.ParkedRetry{ProjectID: project, CallID: id, Retry: retry, Due: due, Key: sk.Value}, nil
}

// Unpark takes a retry out of the due index once its message is on the
// queue. If the call moved on meanwhile (a resend succeeded), it does
// nothing.
func (s *Store) Unpark(ctx context.Context, r herald.ParkedRetry) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 key(callKey(r.ProjectID, r.CallID), "C"),
		UpdateExpression:    aws.String("REMOVE GSI2PK, GSI2SK"),
		ConditionExpression: aws.String("GSI2SK = :sk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":sk": &types.AttributeValueMemberS{Value: r.Key},
		},
	})
	if isConditionFailed(err) {
		return nil
	}
	return classify(err, "unpark call %s", r.CallID)
}

// stringAttr reads a string attribute of an item; "" if it is absent.
func stringAttr(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
