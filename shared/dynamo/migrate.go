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

// Calls written before the lean data path are one large item each
// (C#<project>#<id>, SK "C"), holding their own copy of the event's payload
// and indexed by GSI1. They are moved to today's shape: the payload to the
// event item (once per event), the rest to a small call item in the
// project's activity log, and the old item deleted. A call is moved when it
// is first touched by id (read, claimed, resent, swept), and by Upgrade,
// which the delivery function's sweeps run over the whole table after a
// deploy (upgrade.go); both are safe to repeat and to run at once. Until a
// call is moved, lists do not show it. The index that listed them, GSI1,
// is gone from the template: nothing reads it any more.

// legacyCall is a call item as the older version wrote it.
type legacyCall struct {
	it item
}

func (l legacyCall) ms(name string) (int64, bool) {
	s := l.it.s(name)
	if s == "" {
		return 0, false
	}
	t, err := time.Parse(herald.TimeFormat, s)
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

// migrateOne moves the call project/id from the older shape, if it is
// there, and returns its new item; nil if there is no such legacy call.
func (s *Store) migrateOne(ctx context.Context, project, id string) (map[string]types.AttributeValue, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(legacyCallKey(project, id), "C"),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, classify(err, "get legacy call %s", id)
	}
	if out.Item == nil {
		return nil, nil
	}
	old := legacyCall{item(out.Item)}
	if old.it.s("project") != project || old.it.s("id") != id {
		return nil, nil // not this project's, whatever its key says
	}
	var payload herald.Payload
	doc, _, err := old.it.packed("payload")
	if err != nil {
		return nil, fmt.Errorf("payload of legacy call %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(doc), &payload); err != nil {
		return nil, fmt.Errorf("decode payload of legacy call %s: %w", id, err)
	}
	newItem, err := convertLegacy(old, payload.EventID)
	if err != nil {
		return nil, fmt.Errorf("legacy call %s: %w", id, err)
	}
	// The payload goes to the event item, once: the event's other calls
	// carry the same.
	exp, _ := old.it.n(attrExpires)
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.table),
		Key:              key(eventKey(project, payload.EventID), "E"),
		UpdateExpression: aws.String("SET p = if_not_exists(p, :p), expires_at = if_not_exists(expires_at, :exp)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p": old.it["payload"], ":exp": avN(exp),
		},
	})
	if err != nil {
		return nil, classify(err, "move payload of legacy call %s", id)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                newItem,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if err != nil && !isConditionFailed(err) { // already moved: fine
		return nil, classify(err, "write moved call %s", id)
	}
	if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table),
		Key:       key(legacyCallKey(project, id), "C"),
	}); err != nil {
		return nil, classify(err, "delete legacy call %s", id)
	}
	got, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(callPK(project, id), id), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, classify(err, "read moved call %s", id)
	}
	return got.Item, nil
}

// convertLegacy builds today's call item from an older one. The request
// body it sent is kept as it was stored (a custom body, to today's code):
// it cannot be told whether it was the default payload.
func convertLegacy(old legacyCall, eventID string) (map[string]types.AttributeValue, error) {
	it := old.it
	project, id := it.s("project"), it.s("id")
	n := map[string]types.AttributeValue{
		"PK": avS(callPK(project, id)), "SK": avS(id),
		attrWebhook: avS(it.s("webhook_id")), attrEvent: avS(eventID),
		attrEntityType: avS(it.s("entity_type")), attrEventType: avS(it.s("event_type")),
		attrStatus: avS(it.s("status")), attrExpires: it[attrExpires],
	}
	copyN := func(from, to string) {
		if v, ok := it.n(from); ok {
			n[to] = avN(v)
		}
	}
	copyN("attempt_count", attrAttemptCount)
	if ar, ok := it.n("attempted_auto_retries"); ok && ar != 0 {
		n[attrAutoRetries] = avN(ar)
	}
	copyN("next_auto", attrNextAuto)
	if ms, ok := old.ms("next_retry_at"); ok {
		n[attrNextRetry] = avN(ms)
	}
	if ms, ok := old.ms("last_sent_at"); ok {
		n[attrLastSent] = avN(ms)
		n[attrReqURL] = avS(it.s("request_url"))
		headers, signature := storedHeaders(it.strMap("request_headers"))
		if len(headers) > 0 {
			n[attrReqHeaders] = avMap(headers)
		}
		if signature != "" {
			n[attrReqSig] = avS(signature)
		}
		if v, ok := it["request_payload"]; ok && !isNull(v) {
			n[attrReqBody] = v
		}
		if it.bool("request_payload_truncated") {
			n[attrReqTrunc] = avBool(true)
		}
		copyN("response_status", attrRespStatus)
		if it.has("response_headers") {
			n[attrRespHeaders] = avMap(it.strMap("response_headers"))
		}
		if v, ok := it["response_payload"]; ok && !isNull(v) {
			n[attrRespBody] = v
		}
		if it.bool("response_payload_truncated") {
			n[attrRespTrunc] = avBool(true)
		}
	}
	var atts []herald.Attempt
	if s := it.s("attempts"); s != "" && s != "null" {
		if err := json.Unmarshal([]byte(s), &atts); err != nil {
			return nil, fmt.Errorf("decode attempts: %w", err)
		}
	}
	if len(atts) > 0 {
		n[attrAttempts] = avS(encodeAttempts(atts))
	}
	if rid := it.s("resend_id"); rid != "" {
		n[attrResendID] = avS(rid)
		copyN("resend_at", attrResendAt)
	}
	if lid := it.s("lease_id"); lid != "" {
		n[attrLeaseID] = avS(lid)
		copyN("lease_until", attrLeaseUntil)
	}
	if rl := it.s("recorded_lease"); rl != "" {
		n[attrRecorded] = avS(rl)
	}
	if it.has("GSI2PK") {
		n["GSI2PK"], n["GSI2SK"] = it["GSI2PK"], it["GSI2SK"]
	}
	return n, nil
}

// ScanCalls reads every call of a project with a strongly consistent Scan of
// the whole table: what tools that check a run (the chaos and load ledgers,
// the cost model) see, whatever a list would show. It needs a client that
// can Scan.
func (s *Store) ScanCalls(ctx context.Context, project string) ([]*herald.Call, error) {
	scanner, ok := s.db.(dynamodb.ScanAPIClient)
	if !ok {
		return nil, fmt.Errorf("scan calls: the store's client cannot Scan")
	}
	prefix := logPrefix + project + "#"
	p := dynamodb.NewScanPaginator(scanner, &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("begins_with(PK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": avS(prefix)},
	})
	var out []*herald.Call
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify(err, "scan the calls of project %s", project)
		}
		for _, raw := range page.Items {
			// "L#<project>#" is followed by the shard alone: a key with
			// more after it is not this project's.
			if strings.Contains(item(raw).s("PK")[len(prefix):], "#") {
				continue
			}
			c, err := callFromItem(raw)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}
