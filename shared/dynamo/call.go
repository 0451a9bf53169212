package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/shared/herald"
)

// A call item is small and holds only what changes or what a list filters
// on: the event's payload is stored once, in its event item, and the
// request body only when a custom payload made it (the default payload is
// rendered again from the event when shown). Its attribute names are short,
// because DynamoDB bills every write by the whole item, names included, and a
// call is written twice on its way to success (created, recorded). The
// names, in docs/data-model.md:
const (
	attrWebhook      = "w"   // webhook id
	attrEvent        = "e"   // event id: where the payload is
	attrEntityType   = "et"  //
	attrEventType    = "ev"  //
	attrStatus       = "s"   //
	attrAttemptCount = "n"   // attempts claimed, one under way included
	attrAutoRetries  = "ar"  // attempted_auto_retries_count; absent for 0
	attrNextAuto     = "na"  // the automatic attempt due next; absent for none
	attrNextRetry    = "nr"  // next_retry_at, epoch ms
	attrLastSent     = "ls"  // last_sent_at, epoch ms
	attrReqURL       = "qu"  //
	attrReqHeaders   = "qh"  // what the request's headers hold beyond what is derived (requestHeaders)
	attrReqSig       = "qs"  // the webhook-signature header
	attrReqBody      = "qb"  // a custom payload's body, packed; absent: the default payload
	attrReqTrunc     = "qbt" // only when true
	attrRespStatus   = "rs"  //
	attrRespHeaders  = "rh"  //
	attrRespBody     = "rb"  // packed
	attrRespTrunc    = "rbt" // only when true
	attrAttempts     = "a"   // the attempt history, compact JSON (encodeAttempts)
	attrResendID     = "rid" //
	attrResendAt     = "rat" // epoch ms
	attrResendBulk   = "rb"  // the bulk resend that last queued a resend of the call (bulk.go)
	attrLeaseID      = "lid" //
	attrLeaseUntil   = "lu"  // epoch ms
	attrRecorded     = "rl"  // the lease of the last record (RecordAttempt)
	attrExpires      = "expires_at"
)

// newCallItem is the item of a call as ingest creates it: pending, its
// first attempt due and claimed for the job queued with it
// (herald.FirstAttemptLease).
func newCallItem(c *herald.Call) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"PK":             avS(callPK(c.ProjectID, c.ID)),
		"SK":             avS(c.ID),
		attrWebhook:      avS(c.WebhookID),
		attrEvent:        avS(c.EventID),
		attrEntityType:   avS(c.EntityType),
		attrEventType:    avS(c.EventType),
		attrStatus:       avS(string(herald.StatusPending)),
		attrAttemptCount: avN(0),
		attrNextAuto:     avN(0),
		attrLeaseID:      avS(herald.FirstAttemptLease),
		attrLeaseUntil:   avN(c.CreatedAt.Add(herald.FirstAttemptHold).UnixMilli()),
		attrExpires:      avN(c.ExpiresAt.Unix()),
	}
	return it
}

// callFromItem reads a call item: everything but the event's payload (its
// EventID says where that is) and, for a default payload, the request body.
func callFromItem(raw map[string]types.AttributeValue) (*herald.Call, error) {
	it := item(raw)
	id := it.s("SK")
	project, ok := projectOfLog(it.s("PK"))
	created, idOK := herald.IDTime(id)
	if !ok || !idOK {
		return nil, fmt.Errorf("not a call item: %q %q", it.s("PK"), id)
	}
	c := &herald.Call{
		ID: id, ProjectID: project, WebhookID: it.s(attrWebhook), EventID: it.s(attrEvent),
		EntityType: it.s(attrEntityType), EventType: it.s(attrEventType), CreatedAt: created,
		Status:     herald.Status(it.s(attrStatus)),
		RequestURL: it.s(attrReqURL), ResendID: it.s(attrResendID),
		RequestPayloadTruncated: it.bool(attrReqTrunc), ResponsePayloadTruncated: it.bool(attrRespTrunc),
		Parked: it.has("GSI2PK"),
	}
	c.Payload.EventID = c.EventID
	n, _ := it.n(attrAttemptCount)
	ar, _ := it.n(attrAutoRetries)
	exp, _ := it.n(attrExpires)
	c.AttemptCount, c.AttemptedAutoRetries, c.ExpiresAt = int(n), int(ar), time.Unix(exp, 0).UTC()
	if na, ok := it.n(attrNextAuto); ok {
		next := int(na)
		c.NextAuto = &next
	}
	c.NextRetryAt = msTime(it, attrNextRetry)
	c.LastSentAt = msTime(it, attrLastSent)
	if rs, ok := it.n(attrRespStatus); ok {
		status := int(rs)
		c.ResponseStatus = &status
	}
	c.ResponseHeaders = it.strMap(attrRespHeaders)
	body, ok, err := it.packed(attrRespBody)
	if err != nil {
		return nil, fmt.Errorf("response body of call %s: %w", id, err)
	}
	if ok {
		c.ResponsePayload = &body
	}
	if c.RequestPayload, c.CustomBody, err = it.packed(attrReqBody); err != nil {
		return nil, fmt.Errorf("request body of call %s: %w", id, err)
	}
	if c.LastSentAt != nil {
		c.RequestHeaders = requestHeaders(it.strMap(attrReqHeaders), c.ID, *c.LastSentAt, it.s(attrReqSig))
	} else {
		c.RequestHeaders = map[string]string{}
	}
	if c.Attempts, err = decodeAttempts(it.s(attrAttempts)); err != nil {
		return nil, fmt.Errorf("attempts of call %s: %w", id, err)
	}
	return c, nil
}

func msTime(it item, name string) *time.Time {
	ms, ok := it.n(name)
	if !ok {
		return nil
	}
	t := time.UnixMilli(ms).UTC()
	return &t
}

// Headers every request carries with a value the call itself says: they are
// not stored, and a read puts them back (requestHeaders).
var derivedHeaders = map[string]string{
	"Content-Type": "application/json",
	"Accept":       "*/*",
	"User-Agent":   herald.UserAgent,
}

const (
	hdrWebhookID = "Webhook-Id"
	hdrTimestamp = "Webhook-Timestamp"
	hdrSignature = "Webhook-Signature"
)

// storedHeaders splits a request's recorded headers into what must be
// stored (a webhook's own headers, a masked Authorization, an overridden
// default) and its signature; the rest follows from the call.
func storedHeaders(h map[string]string) (rest map[string]string, signature string) {
	for k, v := range h {
		switch ck := http.CanonicalHeaderKey(k); {
		case ck == hdrWebhookID || ck == hdrTimestamp:
		case ck == hdrSignature:
			signature = v
		case derivedHeaders[ck] == v:
		default:
			if rest == nil {
				rest = map[string]string{}
			}
			rest[k] = v
		}
	}
	return rest, signature
}

// requestHeaders rebuilds the headers an attempt sent from what was stored.
func requestHeaders(stored map[string]string, id string, sent time.Time, signature string) map[string]string {
	out := make(map[string]string, len(stored)+6)
	maps.Copy(out, derivedHeaders)
	maps.Copy(out, stored)
	out[hdrWebhookID] = id
	out[hdrTimestamp] = strconv.FormatInt(sent.Unix(), 10)
	if signature != "" {
		out[hdrSignature] = signature
	}
	return out
}

// encodeAttempts writes the newest herald.MaxStoredAttempts attempts as
// compact JSON: one array per attempt, [number, trigger, start (epoch ms),
// duration ms, success (1/0), response status (0: none), error kind,
// error], trailing empty fields left out.
func encodeAttempts(atts []herald.Attempt) string {
	if len(atts) > herald.MaxStoredAttempts {
		atts = atts[len(atts)-herald.MaxStoredAttempts:]
	}
	var b []byte
	b = append(b, '[')
	for i, a := range atts {
		if i > 0 {
			b = append(b, ',')
		}
		status := 0
		if a.ResponseStatus != nil {
			status = *a.ResponseStatus
		}
		success := 0
		if a.Success {
			success = 1
		}
		fields := []string{strconv.Itoa(a.Number), jsonString(a.Trigger), strconv.FormatInt(a.StartedAt.UnixMilli(), 10),
			strconv.FormatInt(a.DurationMS, 10), strconv.Itoa(success), strconv.Itoa(status), jsonString(a.ErrorKind), jsonString(a.Error)}
		for len(fields) > 6 && fields[len(fields)-1] == `""` {
			fields = fields[:len(fields)-1]
		}
		b = append(b, '[')
		b = append(b, strings.Join(fields, ",")...)
		b = append(b, ']')
	}
	return string(append(b, ']'))
}

func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

func decodeAttempts(s string) ([]herald.Attempt, error) {
	if s == "" {
		return nil, nil
	}
	var rows [][]any
	if err := json.Unmarshal([]byte(s), &rows); err != nil {
		return nil, err
	}
	out := make([]herald.Attempt, 0, len(rows))
	for _, r := range rows {
		if len(r) < 6 {
			return nil, fmt.Errorf("attempt %v has %d fields", r, len(r))
		}
		num, _ := r[0].(float64)
		trigger, _ := r[1].(string)
		start, _ := r[2].(float64)
		dur, _ := r[3].(float64)
		ok, _ := r[4].(float64)
		status, _ := r[5].(float64)
		a := herald.Attempt{Number: int(num), Trigger: trigger, StartedAt: time.UnixMilli(int64(start)).UTC(),
			DurationMS: int64(dur), Success: ok == 1}
		if status != 0 {
			st := int(status)
			a.ResponseStatus = &st
		}
		if len(r) > 6 {
			a.ErrorKind, _ = r[6].(string)
		}
		if len(r) > 7 {
			a.Error, _ = r[7].(string)
		}
		out = append(out, a)
	}
	return out, nil
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
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                newCallItem(c),
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

// GetCall returns a call of a project, or ENOTFOUND, with its request as
// sent (a default payload rendered again from its event). Calls past their
// retention are not found even before DynamoDB's TTL deletes them.
func (s *Store) GetCall(ctx context.Context, project, id string) (*herald.Call, error) {
	if err := lookup(project, id, "webhook call"); err != nil {
		return nil, err
	}
	c, err := s.readCall(ctx, project, id)
	if err != nil {
		return nil, err
	}
	if err := s.renderBodies(ctx, project, []*herald.Call{c}); err != nil {
		return nil, err
	}
	return c, nil
}

// readCall reads a call item by id, strongly consistent; a call written by
// an older version is moved to today's shape first (migrate.go).
func (s *Store) readCall(ctx context.Context, project, id string) (*herald.Call, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(callPK(project, id), id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, classify(err, "get call %s", id)
	}
	raw := out.Item
	if raw == nil {
		if raw, err = s.migrateOne(ctx, project, id); err != nil || raw == nil {
			return nil, notFound(id, err)
		}
	}
	c, err := callFromItem(raw)
	if err != nil {
		return nil, err
	}
	if !c.ExpiresAt.After(s.clock.Now()) || !owns(c.ProjectID, c.ID, project, id) {
		return nil, notFound(id, nil)
	}
	return c, nil
}

func notFound(id string, err error) error {
	if err != nil {
		return err
	}
	return herald.Errorf(herald.ENOTFOUND, "webhook call %s not found", id)
}

// renderBodies fills in the request body of each call whose latest attempt
// sent the default payload: rendered again from its event's payload, with
// the attempted_auto_retries_count it was sent with (the call's own: an
// automatic attempt sets it, a manual one leaves it).
func (s *Store) renderBodies(ctx context.Context, project string, calls []*herald.Call) error {
	var need []string
	for _, c := range calls {
		if c.LastSentAt != nil && !c.CustomBody {
			need = append(need, c.EventID)
		}
	}
	if len(need) == 0 {
		return nil
	}
	payloads, err := s.EventPayloads(ctx, project, need)
	if err != nil {
		return err
	}
	for _, c := range calls {
		if c.LastSentAt == nil || c.CustomBody {
			continue
		}
		p, ok := payloads[c.EventID]
		if !ok {
			continue // the event expired before the call: nothing to show
		}
		c.Payload = p
		c.RequestPayload = string(herald.DefaultPayload(c, c.AttemptedAutoRetries))
	}
	return nil
}

// CallStates reads the calls of an event, as ingest needs them when the
// event is sent again: which exist, and which still wait for their first
// attempt. Missing calls are absent from the answer.
func (s *Store) CallStates(ctx context.Context, project string, ids []string) (map[string]*herald.Call, error) {
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = key(callPK(project, id), id)
	}
	out, err := s.readCalls(ctx, project, keys, true)
	if err != nil {
		return nil, err
	}
	// Calls of an older version's shape are moved, then read as today's.
	for _, id := range ids {
		if out[id] != nil {
			continue
		}
		raw, err := s.migrateOne(ctx, project, id)
		if err != nil {
			return nil, err
		}
		if raw != nil {
			c, err := callFromItem(raw)
			if err != nil {
				return nil, err
			}
			out[id] = c
		}
	}
	return out, nil
}

// batchGet reads up to 100 keys, retrying unprocessed ones with back-off.
// readCalls reads the calls at keys, 100 per BatchGetItem, by id. A call's
// project is read from its key, so every key the caller builds for project
// gives a call of project; one that does not is left out all the same.
func (s *Store) readCalls(ctx context.Context, project string, keys []map[string]types.AttributeValue, consistent bool) (map[string]*herald.Call, error) {
	out := make(map[string]*herald.Call, len(keys))
	for start := 0; start < len(keys); start += 100 {
		items, err := s.batchGet(ctx, keys[start:min(start+100, len(keys))], consistent, "")
		if err != nil {
			return nil, err
		}
		for _, raw := range items {
			c, err := callFromItem(raw)
			if err != nil {
				return nil, err
			}
			if c.ProjectID == project {
				out[c.ID] = c
			}
		}
	}
	return out, nil
}

func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, consistent bool, projection string) ([]map[string]types.AttributeValue, error) {
	ka := types.KeysAndAttributes{Keys: keys, ConsistentRead: aws.Bool(consistent)}
	if projection != "" {
		ka.ProjectionExpression = aws.String(projection)
	}
	req := map[string]types.KeysAndAttributes{s.table: ka}
	var items []map[string]types.AttributeValue
	for attempt := 0; len(req) > 0; attempt++ {
		if attempt > 0 {
			if attempt > 8 {
				return nil, fmt.Errorf("batch read: keys still unprocessed after %d rounds", attempt)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(20<<attempt) * time.Millisecond):
			}
		}
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, classify(err, "batch read")
		}
		items = append(items, out.Responses[s.table]...)
		req = out.UnprocessedKeys
	}
	return items, nil
}
