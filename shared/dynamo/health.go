package dynamo

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/heraldhq/herald/shared/guard"
	"github.com/heraldhq/herald/shared/herald"
)

// A webhook's health is kept in three places, so that a success on a
// healthy webhook writes nothing (docs/endpoint-health.md):
//
//   - the health item, P#<project> / H#<webhook id>, small and written only
//     by what is not a healthy first-attempt success: a failure (the streak,
//     its incident, failures per hour), a retry's or resend's success
//     (successes per hour), the end of a streak or incident, what was
//     raised, and auto-disable;
//   - the webhook item's `incident`, written when an incident opens and
//     closes: delivery reads it with the webhook, which it caches, so it
//     knows without a read whether a success ends an incident;
//   - first-attempt successes, counted from the activity log when health
//     is read (firsts.go).
const healthPrefix = "H#"

func healthSK(id string) string { return healthPrefix + id }

// Attributes of the health item.
const (
	hType          = "type"
	hWebhook       = "w"
	hFailures      = "cf"  // consecutive failed attempts
	hStreak        = "fs"  // failing_since, epoch ms; absent when the last attempt succeeded
	hIncident      = "inc" // the open incident's start, epoch ms
	hReported      = "rep" // failing, exhausted or disabled was raised during the incident
	hFailingFor    = "fr"  // the streak failing was raised for, epoch ms
	hExhaustedHour = "xh"  // the hour exhausted was last raised in, epoch ms
	hLastSuccess   = "ls"  // epoch ms
	hLastFailure   = "lf"  // epoch ms
	hDisabledAt    = "dis" // when auto-disable acted, epoch ms
	hRecoveredDue  = "pr"  // a closed incident whose `recovered` could not be raised yet, epoch ms
	// Counts per UTC hour: "f" or "s" and the hour's number since the epoch
	// ("f494232"): failures, and successes that are not first attempts.
	hourFailures  = "f"
	hourSuccesses = "s"
)

// hourAttr names the count of one kind for one hour.
func hourAttr(kind string, hour time.Time) string {
	return kind + strconv.FormatInt(herald.Hour(hour).Unix()/3600, 10)
}

// staleHours are the hourly counts a write at `at` drops: the 24 hours
// before the health window. Older ones, left by a webhook quiet for more
// than a day, are dropped when a write returns them (dropStale).
func staleHours(at time.Time) []string {
	var out []string
	first := herald.WindowStart(at)
	for h := first.Add(-herald.HealthWindow); h.Before(first); h = h.Add(time.Hour) {
		out = append(out, hourAttr(hourFailures, h), hourAttr(hourSuccesses, h))
	}
	return out
}

// parseHourAttr reads an hourly count's name: its kind and hour.
func parseHourAttr(name string) (kind string, hour time.Time, ok bool) {
	if len(name) < 2 || (name[0] != 'f' && name[0] != 's') {
		return "", time.Time{}, false
	}
	n, err := strconv.ParseInt(name[1:], 10, 64)
	if err != nil {
		return "", time.Time{}, false
	}
	return name[:1], time.Unix(n*3600, 0).UTC(), true
}

// healthUpdate is an update of a webhook's health item.
func (s *Store) healthUpdate(project, id string, e *update, cond string) *dynamodb.UpdateItemInput {
	e.Set(hType, avS("webhook_health")).Set(hWebhook, avS(id))
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(projectKey(project), healthSK(id)),
		UpdateExpression:          aws.String(e.Expression()),
		ExpressionAttributeNames:  e.names,
		ExpressionAttributeValues: e.Values(),
		ReturnValues:              types.ReturnValueAllNew,
	}
	if cond != "" {
		in.ConditionExpression = aws.String(cond)
	}
	return in
}

// RecordHealthFailure counts a failed attempt made at `at`: the streak grows
// by one, starting (with an incident, if none is open) when it is the first,
// and the hour's failures by one. It returns the health as it now stands,
// from which the caller decides what to raise.
func (s *Store) RecordHealthFailure(ctx context.Context, project, id string, at time.Time) (herald.HealthState, error) {
	e := newUpdate()
	t := avN(at.UnixMilli())
	e.Set(hLastFailure, t).SetIfAbsent(hStreak, t).SetIfAbsent(hIncident, t).
		Increment(hFailures, 1).Increment(hourAttr(hourFailures, at), 1).RemoveAll(staleHours(at)...)
	return s.writeHealth(ctx, project, id, e, at)
}

// RecordHealthSuccess records a success made at `at` that is not free (a
// retry's, a resend's, or any that may end an incident): the streak ends,
// and a retry's or resend's success counts in its hour (count: first-attempt
// successes are counted from the activity log instead). The incident, if
// one is open, stays open: the caller raises `recovered` if it was
// reported, then closes it (CloseIncident).
func (s *Store) RecordHealthSuccess(ctx context.Context, project, id string, at time.Time, count bool) (herald.HealthState, error) {
	e := newUpdate()
	e.Set(hLastSuccess, avN(at.UnixMilli())).Set(hFailures, avN(0)).RemoveAll(hStreak, hFailingFor).RemoveAll(staleHours(at)...)
	if count {
		e.Increment(hourAttr(hourSuccesses, at), 1)
	}
	return s.writeHealth(ctx, project, id, e, at)
}

func (s *Store) writeHealth(ctx context.Context, project, id string, e *update, at time.Time) (herald.HealthState, error) {
	if err := lookup(project, id, "webhook"); err != nil {
		return herald.HealthState{}, err
	}
	out, err := s.db.UpdateItem(ctx, s.healthUpdate(project, id, e, ""))
	if err != nil {
		return herald.HealthState{}, classify(err, "record health of webhook %s", id)
	}
	s.dropStale(ctx, project, id, out.Attributes, at)
	return healthState(out.Attributes), nil
}

// dropStale removes hourly counts older than any write drops (a webhook
// quiet for more than a day). It is tidying: a failure only leaves them for
// the next write.
func (s *Store) dropStale(ctx context.Context, project, id string, raw map[string]types.AttributeValue, at time.Time) {
	oldest := herald.WindowStart(at).Add(-herald.HealthWindow)
	var stale []string
	for name := range raw {
		if _, hour, ok := parseHourAttr(name); ok && hour.Before(oldest) {
			stale = append(stale, name)
		}
	}
	if len(stale) == 0 {
		return
	}
	e := newUpdate().RemoveAll(stale...)
	in := s.healthUpdate(project, id, e, "")
	in.ReturnValues = types.ReturnValueNone
	_, _ = s.db.UpdateItem(ctx, in)
}

// healthState reads a health item.
func healthState(raw map[string]types.AttributeValue) herald.HealthState {
	it := item(raw)
	ms := func(name string) time.Time {
		if v, ok := it.n(name); ok {
			return time.UnixMilli(v).UTC()
		}
		return time.Time{}
	}
	cf, _ := it.n(hFailures)
	st := herald.HealthState{
		ConsecutiveFailures: int(cf), StreakStart: ms(hStreak), Incident: ms(hIncident),
		Reported: it.bool(hReported), FailingRaisedFor: ms(hFailingFor), ExhaustedHour: ms(hExhaustedHour),
		LastSuccess: ms(hLastSuccess), LastFailure: ms(hLastFailure), RecoveredDue: ms(hRecoveredDue),
		Hours: map[time.Time]herald.HourCounts{},
	}
	for name := range raw {
		kind, hour, ok := parseHourAttr(name)
		if !ok {
			continue
		}
		n, _ := it.n(name)
		c := st.Hours[hour]
		if kind == hourFailures {
			c.Failures = int(n)
		} else {
			c.Successes = int(n)
		}
		st.Hours[hour] = c
	}
	return st
}

// MarkFailingRaised records that `failing` was raised for the streak that
// began at streak, and that the incident was reported. If the streak ended
// meanwhile, it records nothing.
func (s *Store) MarkFailingRaised(ctx context.Context, project, id string, streak time.Time) error {
	e := newUpdate()
	e.Set(hFailingFor, avN(streak.UnixMilli())).Set(hReported, avBool(true))
	return s.markRaised(ctx, project, id, e, e.Name(hStreak)+" = "+e.Value(avN(streak.UnixMilli())))
}

// MarkExhaustedRaised records that `exhausted` was raised in the hour of at,
// and that the incident was reported. If no incident is open (a success
// came in between), it records nothing: the next `exhausted` of the hour is
// raised again, which ingest finds it has seen.
func (s *Store) MarkExhaustedRaised(ctx context.Context, project, id string, at time.Time) error {
	e := newUpdate()
	e.Set(hExhaustedHour, avN(herald.Hour(at).UnixMilli())).Set(hReported, avBool(true))
	return s.markRaised(ctx, project, id, e, "attribute_exists("+e.Name(hIncident)+")")
}

func (s *Store) markRaised(ctx context.Context, project, id string, e *update, cond string) error {
	in := s.healthUpdate(project, id, e, cond)
	in.ReturnValues = types.ReturnValueNone
	_, err := s.db.UpdateItem(ctx, in)
	if isConditionFailed(err) {
		return nil
	}
	return classify(err, "record what was raised for webhook %s", id)
}

// CloseIncident closes the incident that began at incident. Of concurrent
// successes that see it open, one closes it (closed), and learns whether it
// was reported: that one raises `recovered`.
func (s *Store) CloseIncident(ctx context.Context, project, id string, incident time.Time) (closed, reported bool, err error) {
	e := newUpdate().RemoveAll(hIncident, hReported)
	in := s.healthUpdate(project, id, e, e.Name(hIncident)+" = "+e.Value(avN(incident.UnixMilli())))
	in.ReturnValues = types.ReturnValueAllOld
	out, err := s.db.UpdateItem(ctx, in)
	if isConditionFailed(err) {
		return false, false, nil
	}
	if err != nil {
		return false, false, classify(err, "close the incident of webhook %s", id)
	}
	return true, item(out.Attributes).bool(hReported), nil
}

// SetRecoveredDue records that the incident that began at incident closed
// and its `recovered` could not be raised: the next success raises it
// (delivery leaves the webhook's mark, so that success writes).
func (s *Store) SetRecoveredDue(ctx context.Context, project, id string, incident time.Time) error {
	e := newUpdate()
	e.Set(hRecoveredDue, avN(incident.UnixMilli()))
	in := s.healthUpdate(project, id, e, "")
	in.ReturnValues = types.ReturnValueNone
	_, err := s.db.UpdateItem(ctx, in)
	return classify(err, "keep the recovered of webhook %s", id)
}

// ClearRecoveredDue records that the `recovered` of the incident that began
// at incident was raised.
func (s *Store) ClearRecoveredDue(ctx context.Context, project, id string, incident time.Time) error {
	e := newUpdate().Remove(hRecoveredDue)
	in := s.healthUpdate(project, id, e, e.Name(hRecoveredDue)+" = "+e.Value(avN(incident.UnixMilli())))
	in.ReturnValues = types.ReturnValueNone
	_, err := s.db.UpdateItem(ctx, in)
	if isConditionFailed(err) {
		return nil
	}
	return classify(err, "clear the recovered of webhook %s", id)
}

// endStreak is the part of re-enabling a webhook that ends its failure
// streak (UpdateWebhook writes it in the same transaction): the count and
// failing_since start over, so that auto-disable waits a whole window
// again. The incident stays open, so that the first success after it still
// raises `recovered`.
func (s *Store) endStreak(project, id string) *types.Update {
	e := newUpdate()
	e.Set(hFailures, avN(0)).RemoveAll(hStreak, hFailingFor)
	in := s.healthUpdate(project, id, e, "")
	return &types.Update{TableName: in.TableName, Key: in.Key, UpdateExpression: in.UpdateExpression,
		ExpressionAttributeNames: in.ExpressionAttributeNames, ExpressionAttributeValues: in.ExpressionAttributeValues}
}

// SetIncidentMarker writes on the webhook item that an incident is open
// since incident, so that delivery, reading the webhook, sees it. It counts
// as a write of the webhook (its version grows), so that an API update
// that read the webhook before does not write it back without the mark.
// A webhook deleted meanwhile is left deleted.
func (s *Store) SetIncidentMarker(ctx context.Context, project, id string, incident time.Time) error {
	e := newUpdate()
	e.Set(attrWebhookIncident, avN(incident.UnixMilli()))
	e.Bump(attrWebhookVersion, 1)
	inc := e.Name(attrWebhookIncident)
	cond := "attribute_exists(PK) AND (attribute_not_exists(" + inc + ") OR " + inc + " <> " + e.Value(avN(incident.UnixMilli())) + ")"
	return s.updateWebhookItem(ctx, project, id, e, cond, "mark the incident of webhook %s")
}

// ClearIncidentMarker removes the incident mark from the webhook item, if
// it is still the one of incident.
func (s *Store) ClearIncidentMarker(ctx context.Context, project, id string, incident time.Time) error {
	e := newUpdate().Remove(attrWebhookIncident)
	e.Bump(attrWebhookVersion, 1)
	cond := e.Name(attrWebhookIncident) + " = " + e.Value(avN(incident.UnixMilli()))
	return s.updateWebhookItem(ctx, project, id, e, cond, "clear the incident mark of webhook %s")
}

func (s *Store) updateWebhookItem(ctx context.Context, project, id string, e *update, cond, what string) error {
	if err := lookup(project, id, "webhook"); err != nil {
		return err
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(projectKey(project), webhookSK(id)),
		UpdateExpression:          aws.String(e.Expression()),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  e.names,
		ExpressionAttributeValues: e.Values(),
	})
	if isConditionFailed(err) {
		return nil
	}
	return classify(err, what, id)
}

// AutoDisable disables a webhook whose streak began at streak, in one
// transaction with its health: only while that streak is still going (a
// success in between ended it) and the webhook is enabled. The webhook's
// version grows, so that an API update that read it before is re-applied
// to it rather than written over it. false: nothing was disabled.
func (s *Store) AutoDisable(ctx context.Context, project, id string, streak, at time.Time) (bool, error) {
	if err := lookup(project, id, "webhook"); err != nil {
		return false, err
	}
	h := newUpdate()
	h.Set(hReported, avBool(true)).Set(hDisabledAt, avN(at.UnixMilli()))
	hin := s.healthUpdate(project, id, h, h.Name(hStreak)+" = "+h.Value(avN(streak.UnixMilli())))

	w := newUpdate()
	w.Set(attrWebhookEnabled, avBool(false)).Set(attrWebhookDisabledReason, avS(herald.DisabledAuto)).
		Set(attrWebhookDisabledAt, avS(at.UTC().Format(timeFormat)))
	w.Bump(attrWebhookVersion, 1)
	wcond := "attribute_exists(PK) AND " + w.Name(attrWebhookEnabled) + " = " + w.Value(avBool(true))

	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: hin.TableName, Key: hin.Key, UpdateExpression: hin.UpdateExpression,
			ConditionExpression: hin.ConditionExpression, ExpressionAttributeNames: hin.ExpressionAttributeNames,
			ExpressionAttributeValues: hin.ExpressionAttributeValues}},
		{Update: &types.Update{TableName: aws.String(s.table), Key: key(projectKey(project), webhookSK(id)),
			UpdateExpression: aws.String(w.Expression()), ConditionExpression: aws.String(wcond),
			ExpressionAttributeNames: w.names, ExpressionAttributeValues: w.Values()}},
	}})
	for _, r := range cancelReasons(err) {
		if r == "ConditionalCheckFailed" {
			return false, nil
		}
	}
	if err != nil {
		return false, classify(err, "auto-disable webhook %s", id)
	}
	return true, nil
}

// healthStates reads the health items of a project's webhooks: one GetItem
// for one webhook, one Query for more.
func (s *Store) healthStates(ctx context.Context, project string, ids []string) (map[string]herald.HealthState, error) {
	out := map[string]herald.HealthState{}
	if len(ids) == 1 {
		res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(s.table), Key: key(projectKey(project), healthSK(ids[0])), ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return nil, classify(err, "get health of webhook %s", ids[0])
		}
		if res.Item != nil {
			out[ids[0]] = healthState(res.Item)
		}
		return out, nil
	}
	err := s.queryPages(ctx, s.projectQuery(project, healthPrefix), func(page *dynamodb.QueryOutput) error {
		for _, raw := range page.Items {
			out[item(raw).s(hWebhook)] = healthState(raw)
		}
		return nil
	}, "query health of project %s", project)
	return out, err
}

// WebhookHealth returns the health of the given webhooks of a project, as
// the API shows it: the health items, with the first-attempt successes of
// the activity log.
func (s *Store) WebhookHealth(ctx context.Context, project string, ids []string) (map[string]herald.Health, error) {
	if err := checkProject(project); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return map[string]herald.Health{}, nil
	}
	now := s.clock.Now()
	var states map[string]herald.HealthState
	var firsts map[string]herald.FirstSuccesses
	g, gctx := errgroup.WithContext(ctx)
	g.Go(guard.Func(func() (err error) {
		states, err = s.healthStates(gctx, project, ids)
		return err
	}))
	g.Go(guard.Func(func() (err error) {
		firsts, err = s.firstSuccesses(gctx, project, now)
		return err
	}))
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make(map[string]herald.Health, len(ids))
	for _, id := range ids {
		out[id] = herald.BuildHealth(states[id], firsts[id], now)
	}
	return out, nil
}
