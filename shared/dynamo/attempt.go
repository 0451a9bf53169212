package dynamo

import (
	"context"
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
// only while no other attempt holds the lease. A first attempt may also take
// over the lease the call was created with (herald.FirstAttemptLease): its
// job comes here only when it is not the job's first delivery (a crash), or
// it comes late, or again for an event sent again. The lease outlives the
// send timeout; if its holder crashes, the attempt can be claimed again once
// it expires, and that resend carries the same webhook-id.
//
// For herald.Stale and herald.Busy the call is returned as it stands, so the
// caller can see why. The call comes without its event's payload.
func (s *Store) ClaimAttempt(ctx context.Context, job herald.Job, leaseID string, lease time.Duration) (*herald.Call, herald.ClaimResult, error) {
	if lookup(job.ProjectID, job.CallID, "webhook call") != nil {
		return nil, herald.Gone, nil // no call has such a key
	}
	now := s.clock.Now()
	values := map[string]types.AttributeValue{
		":lease": avS(leaseID), ":until": avN(now.Add(lease).UnixMilli()), ":now": avN(now.UnixMilli()), ":one": avN(1),
	}
	free := "(attribute_not_exists(lu) OR lu < :now)"
	var cond string
	switch {
	case job.Trigger == herald.TriggerManual:
		cond = "rid = :rid AND " + free
		values[":rid"] = avS(job.ResendID)
	case job.Retry == 0:
		cond = "na = :retry AND (" + free + " OR lid = :first)"
		values[":retry"], values[":first"] = avN(0), avS(herald.FirstAttemptLease)
	default:
		cond = "na = :retry AND " + free
		values[":retry"] = avN(int64(job.Retry))
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(callPK(job.ProjectID, job.CallID), job.CallID),
		UpdateExpression:          aws.String("SET lid = :lease, lu = :until ADD n :one"),
		ConditionExpression:       aws.String("attribute_exists(PK) AND " + cond),
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
		// Why not, if refused: the item as the condition saw it.
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	out, err := s.db.UpdateItem(ctx, in)
	if err == nil {
		c, err := callFromItem(out.Attributes)
		return c, herald.Claimed, err
	}
	raw, refused := refusedItem(err)
	if !refused {
		return nil, herald.Gone, classify(err, "claim attempt on call %s", job.CallID)
	}
	if raw == nil {
		// Not there: perhaps a call of an older version's shape, moved
		// now, then claimed as any other.
		moved, err := s.migrateOne(ctx, job.ProjectID, job.CallID)
		if err != nil || moved == nil {
			return nil, herald.Gone, err
		}
		return s.ClaimAttempt(ctx, job, leaseID, lease)
	}
	c, err := callFromItem(raw)
	if err != nil {
		return nil, herald.Gone, err
	}
	it := item(raw)
	until, _ := it.n(attrLeaseUntil)
	held := until >= now.UnixMilli()
	if held && it.s(attrLeaseID) == leaseID {
		// Our own claim: its first answer was lost and the SDK sent it
		// again, which the condition refused.
		return c, herald.Claimed, nil
	}
	wanted := job.Trigger == herald.TriggerManual && c.ResendID == job.ResendID ||
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
// The record names its lease (rl), so that a record whose first answer was
// lost, and which the SDK sent again, recognizes its own write when the
// condition refuses the second: without that, the attempt would count as
// lost and the call's next retry would never be queued.
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
	u := newUpdate()
	u.Set(attrStatus, avS(string(c.Status))).
		Set(attrAttemptCount, avN(int64(c.AttemptCount))).
		Set(attrAttempts, avS(encodeAttempts(c.Attempts))).
		Set(attrRecorded, avS(leaseID)).
		Remove(attrLeaseID).Remove(attrLeaseUntil)
	u.SetOrRemove(attrAutoRetries, c.AttemptedAutoRetries != 0, avN(int64(c.AttemptedAutoRetries)))
	if c.NextAuto != nil {
		u.Set(attrNextAuto, avN(int64(*c.NextAuto)))
	} else {
		u.Remove(attrNextAuto)
	}
	if c.NextRetryAt != nil {
		u.Set(attrNextRetry, avN(c.NextRetryAt.UnixMilli()))
	} else {
		u.Remove(attrNextRetry)
	}
	if c.LastSentAt != nil {
		// The request and response of the latest attempt that was sent; an
		// attempt that sent nothing (a deleted webhook, a template that
		// does not render) leaves the last ones as they were.
		headers, signature := storedHeaders(c.RequestHeaders)
		u.Set(attrLastSent, avN(c.LastSentAt.UnixMilli())).Set(attrReqURL, avS(c.RequestURL))
		u.SetOrRemove(attrReqHeaders, len(headers) > 0, avMap(headers))
		u.SetOrRemove(attrReqSig, signature != "", avS(signature))
		var reqBody *string
		if c.CustomBody {
			reqBody = &c.RequestPayload
		}
		if err := u.setPackedOrRemove(attrReqBody, reqBody); err != nil {
			return fmt.Errorf("pack request of call %s: %w", c.ID, err)
		}
		u.SetOrRemove(attrReqTrunc, c.RequestPayloadTruncated, avBool(true))
		u.SetOrRemove(attrRespStatus, c.ResponseStatus != nil, func() types.AttributeValue {
			if c.ResponseStatus == nil {
				return nil
			}
			return avN(int64(*c.ResponseStatus))
		}())
		u.SetOrRemove(attrRespHeaders, c.ResponseHeaders != nil, avMap(c.ResponseHeaders))
		if err := u.setPackedOrRemove(attrRespBody, c.ResponsePayload); err != nil {
			return fmt.Errorf("pack response of call %s: %w", c.ID, err)
		}
		u.SetOrRemove(attrRespTrunc, c.ResponsePayloadTruncated, avBool(true))
	}
	if clearResend {
		u.Remove(attrResendID).Remove(attrResendAt)
	}
	if rec.Park && c.NextAuto != nil && c.NextRetryAt != nil {
		u.Set("GSI2PK", avS(dueKey(c.ID))).Set("GSI2SK", avS(dueSK(*c.NextRetryAt, *c.NextAuto, c.ID)))
	} else {
		u.Remove("GSI2PK").Remove("GSI2SK")
	}
	cond := u.Name(attrLeaseID) + " = " + u.Value(avS(leaseID))
	if clearResend {
		cond += " AND " + u.Name(attrResendID) + " = " + u.Value(avS(rec.ServedResend))
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(callPK(c.ProjectID, c.ID), c.ID),
		UpdateExpression:          aws.String(u.Expression()),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  u.names,
		ExpressionAttributeValues: u.Values(),
		// If refused, the item as the condition saw it says whether the
		// write that was refused was this one's first copy.
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if raw, refused := refusedItem(err); refused {
		it := item(raw)
		switch {
		case it.s(attrRecorded) == leaseID && (leaseID != herald.FirstAttemptLease || recordedAs(it, c)):
			return nil
		case it.s(attrLeaseID) == leaseID && clearResend:
			return errResendReplaced
		}
		return herald.Errorf(herald.ECONFLICT, "lost the lease on call %s", c.ID)
	}
	return classify(err, "record attempt on call %s", c.ID)
}

// recordedAs reports whether an item already holds the record of the
// attempt c carries: the lease a first attempt records under is the same for
// every call, so its own write is told by the attempt it stored.
func recordedAs(it item, c *herald.Call) bool {
	n, _ := it.n(attrAttemptCount)
	return int(n) == c.AttemptCount && it.s(attrAttempts) == encodeAttempts(c.Attempts)
}

// resendTakeover is how long a pending resend blocks another: long enough for
// its message to be delivered, short enough that a resend whose message was
// lost does not block the button for good.
const resendTakeover = 5 * time.Minute

// RequestResend marks a manual resend as pending, unless one already is:
// queued is false then, and the pending one serves both requests.
func (s *Store) RequestResend(ctx context.Context, project, id, resendID string) (queued bool, err error) {
	if _, err := s.readCall(ctx, project, id); err != nil {
		return false, err // not found (or moved from an older shape first)
	}
	now := s.clock.Now()
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.table),
		Key:              key(callPK(project, id), id),
		UpdateExpression: aws.String("SET rid = :rid, rat = :now"),
		ConditionExpression: aws.String("attribute_exists(PK) AND expires_at > :nowsec AND " +
			"(attribute_not_exists(rid) OR rat < :stale)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":rid": avS(resendID), ":now": avN(now.UnixMilli()), ":nowsec": avN(now.Unix()),
			":stale": avN(now.Add(-resendTakeover).UnixMilli()),
		},
	})
	if err == nil {
		return true, nil
	}
	if !isConditionFailed(err) {
		return false, classify(err, "request resend of call %s", id)
	}
	if _, err := s.readCall(ctx, project, id); err != nil {
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
	from := " " // before every key: they start with a year
	if after != nil {
		from = after.Key + "\x00" // the first key after it
	}
	res, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		IndexName:              aws.String("GSI2"),
		KeyConditionExpression: aws.String("GSI2PK = :pk AND GSI2SK BETWEEN :from AND :bound"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":    avS(duePrefix + strconv.Itoa(shard)),
			":from":  avS(from),
			":bound": avS(until.UTC().Format(herald.TimeFormat) + "$"), // '$' sorts after '#'
		},
		Limit: aws.Int32(int32(min(limit, 1000))), // #nosec G115 -- at most 1,000
	})
	if err != nil {
		return nil, classify(err, "query due retries")
	}
	out := make([]herald.ParkedRetry, 0, len(res.Items))
	for _, raw := range res.Items {
		r, legacy, err := parkedFromItem(raw)
		if err != nil {
			return nil, err
		}
		if legacy {
			// Parked by an older version: moved first, so that the
			// job and the unpark find it where they look.
			if _, err := s.migrateOne(ctx, r.ProjectID, r.CallID); err != nil {
				return nil, err
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func parkedFromItem(raw map[string]types.AttributeValue) (r herald.ParkedRetry, legacy bool, err error) {
	it := item(raw)
	sk := it.s("GSI2SK")
	parts := strings.Split(sk, "#")
	if len(parts) != 3 {
		return r, false, fmt.Errorf("malformed due index item %q", sk)
	}
	project, ok := projectOfLog(it.s("PK"))
	id := it.s("SK")
	if !ok {
		if project, id, ok = legacyCallRef(it.s("PK")); !ok {
			return r, false, fmt.Errorf("due index item %q of an unknown key %q", sk, it.s("PK"))
		}
		legacy = true
	}
	due, err := time.Parse(herald.TimeFormat, parts[0])
	if err != nil {
		return r, false, fmt.Errorf("due index item %q: %w", sk, err)
	}
	retry, err := strconv.Atoi(parts[1])
	if err != nil {
		return r, false, fmt.Errorf("due index item %q: %w", sk, err)
	}
	return herald.ParkedRetry{ProjectID: project, CallID: id, Retry: retry, Due: due, Key: sk}, legacy, nil
}

// Unpark takes a retry out of the due index once its message is on the
// queue. If the call moved on meanwhile (a resend succeeded), it does
// nothing.
func (s *Store) Unpark(ctx context.Context, r herald.ParkedRetry) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(callPK(r.ProjectID, r.CallID), r.CallID),
		UpdateExpression:          aws.String("REMOVE GSI2PK, GSI2SK"),
		ConditionExpression:       aws.String("GSI2SK = :sk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":sk": avS(r.Key)},
	})
	if isConditionFailed(err) {
		return nil
	}
	return classify(err, "unpark call %s", r.CallID)
}

// MarkDeadLettered records on a call that the job for one of its attempts
// failed on every receive and is going to a dead-letter queue: the call is
// failed, with an attempt that was not sent and says why. Its schedule is
// left as it is, so that the job moved back (make redrive), or a resend,
// still finds its attempt due. A call that succeeded meanwhile is left
// alone.
func (s *Store) MarkDeadLettered(ctx context.Context, job herald.Job, reason string) error {
	c, err := s.readCall(ctx, job.ProjectID, job.CallID)
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		return nil
	}
	if err != nil || c.Status == herald.StatusSuccess {
		return err
	}
	before := encodeAttempts(c.Attempts)
	c.Attempts = append(c.Attempts, herald.Attempt{Number: max(c.AttemptCount, 1), Trigger: job.Trigger,
		StartedAt: s.clock.Now().Truncate(time.Millisecond), ErrorKind: herald.ErrKindDLQ, Error: reason})
	cond := "attribute_not_exists(a)"
	values := map[string]types.AttributeValue{":s": avS(string(herald.StatusFailed)), ":a": avS(encodeAttempts(c.Attempts))}
	if len(c.Attempts) > 1 {
		cond, values[":before"] = "a = :before", avS(before)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(callPK(job.ProjectID, job.CallID), job.CallID),
		UpdateExpression:          aws.String("SET s = :s, a = :a"),
		ConditionExpression:       aws.String("attribute_exists(PK) AND " + cond),
		ExpressionAttributeValues: values,
	})
	if isConditionFailed(err) {
		return nil // an attempt was recorded meanwhile: it says more
	}
	return classify(err, "mark call %s dead-lettered", job.CallID)
}
