package dynamo_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/herald"
)

// TestMatchCallsStopsPastTheLimit: a bulk resend reads the calls its filter
// selects, and no more than one past its limit, whatever the log holds.
func TestMatchCallsStopsPastTheLimit(t *testing.T) {
	store, _, clock := newStore(t)
	ctx := context.Background()
	var failed []string
	for i := range 7 {
		c := putCall(t, store, "p1", "w1", t0.Add(time.Duration(i)*time.Second), "item", "update")
		if i%2 == 0 {
			firstAttempt(t, store, c, c.CreatedAt, false)
			failed = append(failed, c.ID)
		}
	}
	putCall(t, store, "p1", "w2", t0, "item", "update")
	putCall(t, store, "p2", "w1", t0, "item", "update")
	clock.Set(t0.Add(time.Minute))

	all, err := store.MatchCalls(ctx, "p1", herald.CallQuery{WebhookID: "w1"}, 100)
	if err != nil || len(all) != 7 {
		t.Fatalf("w1's calls: %d, %v; want 7", len(all), err)
	}
	for _, r := range all {
		if r.WebhookID != "w1" {
			t.Errorf("a call of %s matched", r.WebhookID)
		}
	}
	capped, err := store.MatchCalls(ctx, "p1", herald.CallQuery{WebhookID: "w1"}, 3)
	if err != nil || len(capped) != 4 {
		t.Errorf("limit 3: %d, %v; want 4 (one past the limit says there are more)", len(capped), err)
	}
	got, err := store.MatchCalls(ctx, "p1", herald.CallQuery{Status: herald.StatusRescheduled}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.CallID)
	}
	slices.Sort(ids)
	slices.Sort(failed)
	if !slices.Equal(ids, failed) {
		t.Errorf("rescheduled calls: %v, want %v", ids, failed)
	}
	byID, err := store.MatchCalls(ctx, "p1", herald.CallQuery{IDs: []string{failed[0], "nope"}}, 100)
	if err != nil || len(byID) != 1 || byID[0].CallID != failed[0] {
		t.Errorf("by id: %v, %v", byID, err)
	}
}

// TestBulkResendIsIdempotent: the same request within the window is the
// same bulk resend, which marks a call's resend once, whether its resend
// was served meanwhile or not; another bulk resend may resend it again.
func TestBulkResendIsIdempotent(t *testing.T) {
	store, _, clock := newStore(t)
	ctx := context.Background()
	c := putCall(t, store, "p1", "w1", t0, "item", "update")
	firstAttempt(t, store, c, t0, false)

	id, err := store.ClaimBulkResend(ctx, "p1", "filter-a", "bulk-1")
	if err != nil || id != "bulk-1" {
		t.Fatalf("first claim: %q, %v", id, err)
	}
	clock.Advance(herald.BulkResendWindow - time.Second)
	if id, _ := store.ClaimBulkResend(ctx, "p1", "filter-a", "bulk-2"); id != "bulk-1" {
		t.Errorf("the same request within the window: %q; want bulk-1", id)
	}
	if id, _ := store.ClaimBulkResend(ctx, "p2", "filter-a", "bulk-3"); id != "bulk-3" {
		t.Errorf("another project's request: %q; want its own", id)
	}
	if id, _ := store.ClaimBulkResend(ctx, "p1", "filter-b", "bulk-4"); id != "bulk-4" {
		t.Errorf("another filter: %q; want its own", id)
	}

	steps := []struct {
		name       string
		resend     string
		bulk       string
		want       herald.ResendOutcome
		serveAfter bool
	}{
		{"queued", "r1", "bulk-1", herald.ResendQueued, false},
		{"again while pending", "r2", "bulk-1", herald.ResendAlreadyQueued, true},
		{"again once served", "r3", "bulk-1", herald.ResendAlreadyQueued, false},
		{"another bulk resend", "r4", "bulk-5", herald.ResendQueued, false},
		{"a third while that one is pending", "r5", "bulk-6", herald.ResendPending, false},
	}
	pending := "r1"
	for _, s := range steps {
		got, err := store.RequestBulkResend(ctx, "p1", c.ID, s.resend, s.bulk)
		if err != nil || got != s.want {
			t.Fatalf("%s: %v, %v; want %v", s.name, got, err, s.want)
		}
		if got == herald.ResendQueued {
			pending = s.resend
		}
		if s.serveAfter {
			// Delivery serves the pending resend: it is cleared, the
			// bulk resend's mark stays.
			call, claim, err := store.ClaimAttempt(ctx, herald.Job{ProjectID: "p1", CallID: c.ID, Trigger: herald.TriggerManual, ResendID: pending}, "lease", time.Minute)
			if err != nil || claim != herald.Claimed {
				t.Fatalf("claim the resend: %v, %v", claim, err)
			}
			if err := store.RecordAttempt(ctx, call, "lease", herald.Recording{ServedResend: pending}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := store.CancelBulkResend(ctx, "p1", c.ID, "r4"); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.RequestBulkResend(ctx, "p1", c.ID, "r6", "bulk-5"); got != herald.ResendQueued {
		t.Errorf("after its job could not be queued, the same bulk resend: %v; want queued", got)
	}
	if got, _ := store.RequestBulkResend(ctx, "p1", herald.NewID(t0), "r7", "bulk-5"); got != herald.ResendGone {
		t.Errorf("a call that is not there: %v", got)
	}
}
