package dynamo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
)

func event(project, id, entity, eventType string) *herald.Event {
	return &herald.Event{ProjectID: project, EventID: id, Environment: "main", IsEnvironmentPrimary: true,
		EntityType: entity, EventType: eventType, EventTriggeredAt: t0,
		Entity: json.RawMessage(`{"id":"1","type":"item"}`)}
}

func putCall(t *testing.T, store *dynamo.Store, project, webhookID string, at time.Time, entity, eventType string) *herald.Call {
	t.Helper()
	at = at.Truncate(time.Millisecond)
	c := herald.NewCall(herald.NewID(at), &herald.Webhook{ID: webhookID}, event(project, "e-"+herald.NewID(at), entity, eventType), at, 30*24*time.Hour)
	created, err := store.CreateCall(context.Background(), c)
	if err != nil {
		t.Fatalf("CreateCall: %v", err)
	}
	if !created {
		// The SDK retries a request whose answer was lost; the copy then
		// finds the item its first try wrote, as it would on DynamoDB. CI
		// saw this twice in a few hundred runs. The call must be there.
		got, err := store.GetCall(context.Background(), project, c.ID)
		if err != nil || got.WebhookID != webhookID || !got.CreatedAt.Equal(c.CreatedAt) {
			t.Fatalf("CreateCall = false, and the call reads back as %+v, %v", got, err)
		}
		t.Logf("CreateCall of %s found its own earlier write", c.ID)
	}
	return c
}

func TestCallCreateIsOnce(t *testing.T) {
	store, _, _ := newStore(t)
	ctx := context.Background()
	c := putCall(t, store, "p1", "w1", t0, "item", "update")
	again := *c
	again.Status = herald.StatusSuccess
	if created, err := store.CreateCall(ctx, &again); err != nil || created {
		t.Errorf("second CreateCall = %v, %v; want false, nil", created, err)
	}
	got, err := store.GetCall(ctx, "p1", c.ID)
	if err != nil || got.Status != herald.StatusPending || got.NextAuto == nil || *got.NextAuto != 0 {
		t.Errorf("GetCall = %+v, %v", got, err)
	}
	// The payload lives in the event item, once per event; the call
	// names its event.
	if got.EventID != c.EventID || got.EventID == "" || !got.CreatedAt.Equal(c.CreatedAt) {
		t.Errorf("event %q (want %q), created %v", got.EventID, c.EventID, got.CreatedAt)
	}
	if _, err := store.GetCall(ctx, "p2", c.ID); herald.ErrorCode(err) != herald.ENOTFOUND {
		t.Errorf("another project's call: %v", err)
	}
}

func TestClaimAttempt(t *testing.T) {
	store, _, clock := newStore(t)
	ctx := context.Background()
	c := putCall(t, store, "p1", "w1", t0, "item", "update")
	first := herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerFirst}

	got, res, err := store.ClaimAttempt(ctx, first, "lease-a", time.Minute)
	if err != nil || res != herald.Claimed || got.AttemptCount != 1 {
		t.Fatalf("first claim = %v, %v (attempts %d)", res, err, got.AttemptCount)
	}
	if _, res, _ := store.ClaimAttempt(ctx, first, "lease-b", time.Minute); res != herald.Busy {
		t.Errorf("claim while leased = %v; want Busy", res)
	}
	// The lease runs out (a crash): the same attempt can be claimed again.
	clock.Advance(61 * time.Second)
	got, res, err = store.ClaimAttempt(ctx, first, "lease-c", time.Minute)
	if err != nil || res != herald.Claimed || got.AttemptCount != 2 {
		t.Fatalf("claim after the lease ran out = %v, %v", res, err)
	}
	// Record a success under the old lease: refused.
	got.Status = herald.StatusSuccess
	got.NextAuto = nil
	if err := store.RecordAttempt(ctx, got, "lease-a", herald.Recording{}); herald.ErrorCode(err) != herald.ECONFLICT {
		t.Errorf("record with a lost lease: %v; want ECONFLICT", err)
	}
	if err := store.RecordAttempt(ctx, got, "lease-c", herald.Recording{}); err != nil {
		t.Fatalf("record: %v", err)
	}
	// The attempt is done: the same job again is stale.
	if _, res, _ := store.ClaimAttempt(ctx, first, "lease-d", time.Minute); res != herald.Stale {
		t.Errorf("claim of a done attempt = %v; want Stale", res)
	}
	missing := herald.Job{ProjectID: "p1", CallID: herald.NewID(t0), Trigger: herald.TriggerFirst}
	if _, res, _ := store.ClaimAttempt(ctx, missing, "x", time.Minute); res != herald.Gone {
		t.Errorf("claim of no call = %v; want Gone", res)
	}
}

func TestConcurrentClaimsSendOnce(t *testing.T) {
	store, _, _ := newStore(t)
	ctx := context.Background()
	c := putCall(t, store, "p1", "w1", t0, "item", "update")
	job := herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerFirst}
	var wg sync.WaitGroup
	results := make([]herald.ClaimResult, 12)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i], _ = store.ClaimAttempt(ctx, job, fmt.Sprintf("lease-%d", i), time.Minute)
		}()
	}
	wg.Wait()
	if n := countOf(results, herald.Claimed); n != 1 {
		t.Errorf("%d of 12 concurrent claims won; want 1 (%v)", n, results)
	}
}

func countOf[T comparable](xs []T, x T) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

func TestResendIsPendingOnce(t *testing.T) {
	store, _, clock := newStore(t)
	ctx := context.Background()
	c := putCall(t, store, "p1", "w1", t0, "item", "update")
	if queued, err := store.RequestResend(ctx, "p1", c.ID, "r1"); err != nil || !queued {
		t.Fatalf("first resend = %v, %v", queued, err)
	}
	if queued, err := store.RequestResend(ctx, "p1", c.ID, "r2"); err != nil || queued {
		t.Errorf("second resend while pending = %v, %v; want false", queued, err)
	}
	if _, err := store.RequestResend(ctx, "p2", c.ID, "r3"); herald.ErrorCode(err) != herald.ENOTFOUND {
		t.Errorf("resend in another project: %v", err)
	}
	// While the call's first attempt holds the lease it was created with,
	// the resend waits for it.
	if _, res, _ := store.ClaimAttempt(ctx, herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerManual, ResendID: "r1"}, "l", time.Minute); res != herald.Busy {
		t.Errorf("claim of a resend while the first attempt holds the lease = %v; want Busy", res)
	}
	clock.Advance(herald.FirstAttemptHold + time.Second)
	// A stale job for the first resend id and one for another id.
	if _, res, _ := store.ClaimAttempt(ctx, herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerManual, ResendID: "r2"}, "l", time.Minute); res != herald.Stale {
		t.Errorf("claim of a resend that is not pending = %v; want Stale", res)
	}
	got, res, err := store.ClaimAttempt(ctx, herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerManual, ResendID: "r1"}, "l", time.Minute)
	if err != nil || res != herald.Claimed {
		t.Fatalf("claim of the pending resend = %v, %v", res, err)
	}
	if err := store.RecordAttempt(ctx, got, "l", herald.Recording{ServedResend: "r1"}); err != nil {
		t.Fatal(err)
	}
	if queued, _ := store.RequestResend(ctx, "p1", c.ID, "r4"); !queued {
		t.Errorf("a resend after the last one was sent was not queued")
	}
	// A pending resend whose message was lost stops blocking after a while.
	clock.Advance(6 * time.Minute)
	if queued, _ := store.RequestResend(ctx, "p1", c.ID, "r5"); !queued {
		t.Errorf("a stale pending resend still blocks")
	}
}

// TestSecondResendSurvivesTheFirstsRecord is issue 10's tenth defect:
// recording a resend removed resend_id whatever it held, so a second
// resend asked while the first was being sent (once the first had waited
// long enough to be taken over) was wiped, and its job then dropped as
// stale. The record removes only its own resend.
func TestSecondResendSurvivesTheFirstsRecord(t *testing.T) {
	store, _, clock := newStore(t)
	ctx := context.Background()
	c := putCall(t, store, "p1", "w1", t0, "item", "update")
	if queued, err := store.RequestResend(ctx, "p1", c.ID, "r1"); err != nil || !queued {
		t.Fatalf("first resend = %v, %v", queued, err)
	}
	// r1's message waits in the queue past the takeover time, then is
	// claimed; meanwhile someone asks again.
	clock.Advance(6 * time.Minute)
	got, res, err := store.ClaimAttempt(ctx, herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerManual, ResendID: "r1"}, "lease-1", time.Minute)
	if err != nil || res != herald.Claimed {
		t.Fatalf("claim of r1 = %v, %v", res, err)
	}
	if queued, err := store.RequestResend(ctx, "p1", c.ID, "r2"); err != nil || !queued {
		t.Fatalf("second resend = %v, %v; want it queued (r1 was pending for 6 minutes)", queued, err)
	}
	got.Status = herald.StatusSuccess
	if err := store.RecordAttempt(ctx, got, "lease-1", herald.Recording{ServedResend: "r1"}); err != nil {
		t.Fatalf("record of r1: %v", err)
	}
	after, err := store.GetCall(ctx, "p1", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.ResendID != "r2" || after.Status != herald.StatusSuccess {
		t.Errorf("after r1's record: resend %q, status %s; want r2 still pending and r1's outcome recorded", after.ResendID, after.Status)
	}
	if _, res, err := store.ClaimAttempt(ctx, herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerManual, ResendID: "r2"}, "lease-2", time.Minute); err != nil || res != herald.Claimed {
		t.Errorf("claim of r2 = %v, %v; want Claimed: the second resend is sent", res, err)
	}
}

func TestParkedRetries(t *testing.T) {
	store, _, _ := newStore(t)
	ctx := context.Background()
	var ids []string
	for i, delay := range []time.Duration{30 * time.Minute, 5 * time.Hour, 2 * time.Hour} {
		c := putCall(t, store, fmt.Sprintf("p%d", i), "w1", t0, "item", "update")
		got, _, err := store.ClaimAttempt(ctx, herald.Job{ProjectID: c.ProjectID, CallID: c.ID, Trigger: herald.TriggerFirst}, "l", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		due, next := t0.Add(delay), 3
		got.Status, got.NextAuto, got.NextRetryAt = herald.StatusRescheduled, &next, &due
		if err := store.RecordAttempt(ctx, got, "l", herald.Recording{Park: true}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	// allDue reads every due shard, two at a time, as a sweep pages.
	allDue := func(until time.Time) []herald.ParkedRetry {
		var out []herald.ParkedRetry
		for shard := range store.DueShards() {
			var after *herald.ParkedRetry
			for {
				page, err := store.DueRetries(ctx, shard, until, after, 2)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				out = append(out, page...)
				after = &page[len(page)-1]
			}
		}
		return out
	}
	due := allDue(t0.Add(3 * time.Hour))
	var got []string
	for _, r := range due {
		got = append(got, r.CallID)
		if r.Retry != 3 {
			t.Errorf("parked retry %d; want 3", r.Retry)
		}
	}
	slices.Sort(got)
	want := []string{ids[0], ids[2]}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("due within 3h: %v; want %v", got, want)
	}
	for _, r := range due {
		if err := store.Unpark(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if left := allDue(t0.Add(3 * time.Hour)); len(left) != 0 {
		t.Errorf("%d still parked after unpark", len(left))
	}
	if later := allDue(t0.Add(6 * time.Hour)); len(later) != 1 || later[0].CallID != ids[1] {
		t.Errorf("due within 6h: %v; want the 5h one", later)
	}
}

// replayingClient answers an armed UpdateItem as DynamoDB does when its first
// answer was lost (a 500 or a timeout after the write was applied) and the
// SDK sent the request again: the write is applied, and the caller gets the
// answer to the second, identical request.
type replayingClient struct {
	dynamo.Client
	armed bool
}

func (c *replayingClient) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if c.armed {
		c.armed = false
		if _, err := c.Client.UpdateItem(ctx, in, opts...); err != nil {
			return nil, err
		}
	}
	return c.Client.UpdateItem(ctx, in, opts...)
}

// TestWritesSurviveTheirOwnRetry: a claim or a record whose first answer was
// lost finds its own write when the SDK retries it, and succeeds. Found by
// the chaos run (tools/chaos): the record of an attempt failed as "lost the
// lease", so delivery dropped the job without queueing the call's next
// retry, which then never ran; the claim came back Busy and delayed the
// attempt by a lease.
func TestWritesSurviveTheirOwnRetry(t *testing.T) {
	_, env, clock := newStore(t)
	client := &replayingClient{Client: env.DB}
	store := dynamo.New(dynamo.Deps{DB: client, Table: env.Table, Clock: clock})
	ctx := context.Background()
	c := putCall(t, store, "p1", "w1", t0, "item", "update")
	job := herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerFirst}

	client.armed = true
	got, res, err := store.ClaimAttempt(ctx, job, "lease-a", time.Minute)
	if err != nil || res != herald.Claimed {
		t.Fatalf("claim whose answer was lost = %v, %v; want Claimed", res, err)
	}
	if _, res, _ := store.ClaimAttempt(ctx, job, "lease-b", time.Minute); res != herald.Busy {
		t.Errorf("another claim meanwhile = %v; want Busy", res)
	}

	next, due := 1, t0.Add(2*time.Minute)
	got.Status, got.NextAuto, got.NextRetryAt = herald.StatusRescheduled, &next, &due
	client.armed = true
	if err := store.RecordAttempt(ctx, got, "lease-a", herald.Recording{}); err != nil {
		t.Fatalf("record whose answer was lost: %v; want success", err)
	}
	stored, err := store.GetCall(ctx, "p1", c.ID)
	if err != nil || stored.Status != herald.StatusRescheduled || stored.NextAuto == nil || *stored.NextAuto != 1 {
		t.Fatalf("stored call = %+v, %v", stored, err)
	}
	// The lease is gone with the record: another holder's record is still
	// refused.
	if err := store.RecordAttempt(ctx, got, "lease-b", herald.Recording{}); herald.ErrorCode(err) != herald.ECONFLICT {
		t.Errorf("record without the lease: %v; want ECONFLICT", err)
	}
}
