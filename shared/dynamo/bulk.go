package dynamo

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/shared/herald"
)

// A bulk resend (POST /webhook_calls/bulk_resend) resends every call a list
// filter selects, each as a single resend does. It is idempotent for
// herald.BulkResendWindow: the request's filter names a bulk item,
// B#<project>#<hash of the filter> / B, holding the id of the bulk resend it
// started; the same request within the window gets the same id, and a call
// is never queued twice for one id (the call's `rb` holds the last one). So
// the same request twice queues nothing twice, and one that failed half way
// queues, when made again, only what it had not queued.
const bulkPrefix = "B#"

// MatchCalls returns the calls of a project that a list query's filters
// select (its paging and order are not read), each with its webhook, up to
// limit+1 of them: more than limit says the filter selects too many.
func (s *Store) MatchCalls(ctx context.Context, project string, q herald.CallQuery, limit int) ([]herald.CallRef, error) {
	if err := checkProject(project); err != nil {
		return nil, err
	}
	lq, err := newListQuery(q, s.clock.Now())
	if err != nil {
		return nil, err
	}
	var refs []indexItem
	if len(q.IDs) > 0 {
		if refs, err = s.indexByIDs(ctx, project, lq, q.IDs); err != nil {
			return nil, err
		}
	} else if refs, err = s.scanUpTo(ctx, project, lq, limit+1); err != nil {
		return nil, err
	}
	out := make([]herald.CallRef, 0, len(refs))
	for _, r := range refs {
		out = append(out, herald.CallRef{WebhookID: r.WebhookID, CallID: r.SK})
	}
	return out, nil
}

// scanUpTo reads the matching index items of every shard, stopping once it
// has more than max of them.
func (s *Store) scanUpTo(ctx context.Context, project string, lq *listQuery, max int) ([]indexItem, error) {
	found := make([][]indexItem, callShards)
	var total atomic.Int64
	err := s.eachShard(ctx, project, lq, indexProjection, "match calls", func(shard int, page *dynamodb.QueryOutput) bool {
		items := indexItems(page.Items)
		found[shard] = append(found[shard], items...)
		return total.Add(int64(len(items))) < int64(max)
	})
	if err != nil {
		return nil, err
	}
	var out []indexItem
	for _, items := range found {
		out = append(out, items...)
	}
	sortIndex(out, herald.CallQuery{})
	if len(out) > max {
		out = out[:max]
	}
	return out, nil
}

// ClaimBulkResend returns the id of the bulk resend a request starts: a new
// one (newID), or, when the same request (key: its filter, hashed) came
// within herald.BulkResendWindow, the one that request started.
func (s *Store) ClaimBulkResend(ctx context.Context, project, key, newID string) (string, error) {
	if err := checkProject(project); err != nil {
		return "", err
	}
	now := s.clock.Now()
	k := map[string]types.AttributeValue{"PK": avS(bulkPrefix + project + "#" + key), "SK": avS("B")}
	it := map[string]types.AttributeValue{"type": avS("bulk_resend"), "id": avS(newID), "at": avN(now.UnixMilli()),
		attrExpires: avN(now.Add(24 * time.Hour).Unix())}
	for name, v := range k {
		it[name] = v
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      it,
		ConditionExpression:       aws.String("attribute_not_exists(PK) OR #at < :stale"),
		ExpressionAttributeNames:  map[string]string{"#at": "at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":stale": avN(now.Add(-herald.BulkResendWindow).UnixMilli())},
	})
	if err == nil {
		return newID, nil
	}
	if !isConditionFailed(err) {
		return "", classify(err, "claim bulk resend")
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", classify(err, "read bulk resend")
	}
	return item(out.Item).s("id"), nil
}

// RequestBulkResend marks a call's resend as pending for bulk resend bulkID,
// as RequestResend does for one resend, unless this bulk resend queued it
// already or another resend is pending.
func (s *Store) RequestBulkResend(ctx context.Context, project, callID, resendID, bulkID string) (herald.ResendOutcome, error) {
	if err := lookup(project, callID, "webhook call"); err != nil {
		return herald.ResendGone, nil
	}
	now := s.clock.Now()
	u := newUpdate()
	u.Set(attrResendID, avS(resendID)).Set(attrResendAt, avN(now.UnixMilli())).Set(attrResendBulk, avS(bulkID))
	rid, rb := u.Name(attrResendID), u.Name(attrResendBulk)
	cond := "attribute_exists(PK) AND " + u.Name(attrExpires) + " > " + u.Value(avN(now.Unix())) +
		" AND (attribute_not_exists(" + rid + ") OR " + u.Name(attrResendAt) + " < " + u.Value(avN(now.Add(-resendTakeover).UnixMilli())) + ")" +
		" AND (attribute_not_exists(" + rb + ") OR " + rb + " <> " + u.Value(avS(bulkID)) + ")"
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 key(callPK(project, callID), callID),
		UpdateExpression:                    aws.String(u.Expression()),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            u.names,
		ExpressionAttributeValues:           u.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	raw, refused := refusedItem(err)
	switch {
	case err == nil:
		return herald.ResendQueued, nil
	case !refused:
		return herald.ResendGone, classify(err, "request resend of call %s", callID)
	case raw == nil:
		return herald.ResendGone, nil
	case item(raw).s(attrResendBulk) == bulkID:
		return herald.ResendAlreadyQueued, nil
	case item(raw).has(attrResendID):
		return herald.ResendPending, nil
	}
	return herald.ResendGone, nil
}

// CancelBulkResend takes back a resend RequestBulkResend marked, when its
// job could not be queued: the same bulk request, made again, queues it.
func (s *Store) CancelBulkResend(ctx context.Context, project, callID, resendID string) error {
	u := newUpdate().RemoveAll(attrResendID, attrResendAt, attrResendBulk)
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(callPK(project, callID), callID),
		UpdateExpression:          aws.String(u.Expression()),
		ConditionExpression:       aws.String(u.Name(attrResendID) + " = " + u.Value(avS(resendID))),
		ExpressionAttributeNames:  u.names,
		ExpressionAttributeValues: u.Values(),
	})
	if isConditionFailed(err) {
		return nil
	}
	return classify(err, "cancel resend of call %s", callID)
}
