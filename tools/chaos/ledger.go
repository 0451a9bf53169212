package chaos

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"golang.org/x/sync/errgroup"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/ingest"
)

// Ledger is the account of a run: what was expected, what the table
// recorded, what the receivers logged, and every disagreement (Problems).
type Ledger struct {
	Config  Config
	Drained bool // the queue emptied within Config.Drain

	Events        int
	ExpectedCalls int // (event, matching webhook) pairs
	CallItems     int // call items in the table
	Reingested    int

	// Final call statuses.
	Success     int
	Rescheduled int // failed, retry queued: pending in this ledger
	Failed      int
	Pending     int // never attempted

	Attempts         int // recorded attempts
	Requests         int // requests the receivers logged
	Duplicates       int // requests no attempt recorded (unrecorded sends)
	DupByKill        int // of which, calls whose job was in a killed batch
	DupByFault       int // of which (not killed), calls an AWS fault touched
	LostSuccess      int // calls not success whose receiver answered 2xx to an unrecorded send
	CallsWithRetries int // calls with more than one recorded attempt
	DLQ              int
	DLQByStatus      map[string]int
	// RetryLate lists, for every automatic retry recorded, how much later
	// than the schedule it started (guarantee 5), for the figures.
	RetryLate []time.Duration

	DeliveryKills, IngestKills        int
	IngestInvocations, IngestFailures int
	Faults                            map[string]int
	ReceiverAnswers                   map[string]int

	IngestSeconds, TotalSeconds float64

	Problems []string
}

// Balanced reports whether the ledger balances.
func (l *Ledger) Balanced() bool { return len(l.Problems) == 0 }

func (l *Ledger) problem(format string, args ...any) {
	l.Problems = append(l.Problems, fmt.Sprintf(format, args...))
}

type ledgerInput struct {
	store     *dynamo.Store
	db        *dynamodb.Client
	table     string
	hooks     []hook // hook i has hookTriggers[i]
	events    []chaosEvent
	replies   map[string]ingest.Result
	reReplies map[string]ingest.Result
	dlq       []dlqMessage
	kills     *killLog
	proxy     *FaultProxy
	cfg       Config
	drained   bool
}

func buildLedger(ctx context.Context, in ledgerInput) (*Ledger, error) {
	l := &Ledger{Config: in.cfg, Drained: in.drained, Events: len(in.events), Reingested: len(in.reReplies), DLQByStatus: map[string]int{}, ReceiverAnswers: map[string]int{}}
	if !in.drained {
		l.problem("the delivery queue did not drain within %s", in.cfg.Drain)
	}
	hookByID := map[string]hook{}
	for _, h := range in.hooks {
		hookByID[h.id] = h
	}

	// Every (event, matching webhook) has exactly one call.
	callHook := map[string]string{} // call id -> webhook id
	for _, ev := range in.events {
		r, ok := in.replies[ev.ID]
		if !ok || (r.Status != "accepted" && r.Status != "duplicate") {
			l.problem("event %s: not accepted (%q)", ev.ID, r.Status)
			continue
		}
		want := map[string]bool{}
		for i, h := range in.hooks {
			if wantsEvent(i, ev) {
				want[h.id] = true
			}
		}
		l.ExpectedCalls += len(want)
		got := map[string]int{}
		for _, c := range r.Calls {
			got[c.WebhookID]++
			if prev, dup := callHook[c.CallID]; dup {
				l.problem("call %s: named by two events (webhooks %s and %s)", c.CallID, prev, c.WebhookID)
			}
			callHook[c.CallID] = c.WebhookID
		}
		for id := range want {
			if got[id] != 1 {
				l.problem("event %s: %d calls for webhook %s; want 1", ev.ID, got[id], hookByID[id].receiver.Name)
			}
		}
		for id := range got {
			if !want[id] {
				l.problem("event %s: a call for webhook %s, which does not match it", ev.ID, id)
			}
		}
	}
	// Ingesting again creates nothing (guarantee 2).
	for id, again := range in.reReplies {
		first := in.replies[id]
		if again.Status != "duplicate" || !sameCalls(first.Calls, again.Calls) {
			l.problem("event %s ingested again: %s with calls %v; first %v", id, again.Status, again.Calls, first.Calls)
		}
	}
	stored, err := in.store.ScanCalls(ctx, project)
	if err != nil {
		return nil, err
	}
	n := len(stored)
	l.CallItems = n
	if n != l.ExpectedCalls {
		l.problem("the table holds %d calls; %d (event, webhook) pairs match", n, l.ExpectedCalls)
	}

	// What the receivers logged, by call.
	requests := map[string][]Request{}
	for _, h := range in.hooks {
		for _, r := range h.receiver.Log() {
			l.Requests++
			l.ReceiverAnswers[r.Answer]++
			if callHook[r.WebhookID] != h.id {
				l.problem("receiver %s: a request with webhook-id %q, not a call of its webhook", h.receiver.Name, r.WebhookID)
				continue
			}
			requests[r.WebhookID] = append(requests[r.WebhookID], r)
		}
	}

	inDLQ := map[string]int{}
	for _, m := range in.dlq {
		inDLQ[m.Job.CallID]++
	}

	calls, err := readCalls(ctx, in.store, slices.Sorted(maps.Keys(callHook)))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for id, c := range calls {
		l.checkCall(callCheck{
			id: id, receiver: hookByID[callHook[id]].receiver.Name, call: c, got: requests[id],
			killed: in.kills.killed(id), touched: in.proxy.Touched(id), inDLQ: inDLQ[id] > 0,
		}, now)
	}
	for _, m := range in.dlq {
		c, ok := calls[m.Job.CallID]
		if !ok {
			l.problem("DLQ message %q names no call of the run", m.Body)
			continue
		}
		l.DLQ++
		l.DLQByStatus[string(c.Status)]++
	}
	return l, nil
}

// callCheck is what the ledger knows of one call.
type callCheck struct {
	id, receiver string
	call         *herald.Call
	got          []Request // what the receiver logged for it
	killed       bool      // its job was in a killed batch
	touched      bool      // an AWS fault hit a request naming it
	inDLQ        bool
}

// checkCall accounts for one call: every recorded send matches a request
// the receiver logged with the answer it gave; a request no attempt
// recorded (a duplicate) is allowed only on a call a kill or an AWS fault
// hit; a success call got a 2xx; a failed or rescheduled one got none,
// unless that 2xx went to an unrecorded send; a call is never left
// unattempted.
func (l *Ledger) checkCall(k callCheck, now time.Time) {
	id, name, c, got := k.id, k.receiver, k.call, k.got
	l.Attempts += len(c.Attempts)
	if len(c.Attempts) > 1 {
		l.CallsWithRetries++
	}
	auto := 0
	for i, a := range c.Attempts {
		if i == 0 || a.Trigger != herald.TriggerAuto || auto >= len(herald.RetryDelays) {
			continue
		}
		l.RetryLate = append(l.RetryLate, a.StartedAt.Sub(c.Attempts[i-1].StartedAt)-herald.RetryDelays[auto])
		auto++
	}
	received := map[string]int{}
	for _, r := range got {
		received[r.Answer]++
	}
	sends := 0
	for _, a := range c.Attempts {
		answer, sent := attemptAnswer(a)
		if !sent {
			l.problem("call %s (%s): attempt %d not sent: %s %s", id, name, a.Number, a.ErrorKind, a.Error)
			continue
		}
		sends++
		if received[answer] == 0 {
			l.problem("call %s (%s): attempt %d recorded %q, which the receiver never answered (it logged %v)", id, name, a.Number, answer, answers(got))
			continue
		}
		received[answer]--
	}
	extra := len(got) - sends
	if extra > 0 {
		l.Duplicates += extra
		switch {
		case k.killed:
			l.DupByKill += extra
		case k.touched:
			l.DupByFault += extra
		default:
			l.problem("call %s (%s): %d sends not recorded, with no kill or fault on it (receiver logged %v, call has %d attempts)", id, name, extra, answers(got), sends)
		}
	}
	switch c.Status {
	case herald.StatusSuccess:
		l.Success++
		if received2xx(got) == 0 {
			l.problem("call %s (%s): success, but the receiver never answered 2xx", id, name)
		}
	case herald.StatusRescheduled, herald.StatusFailed:
		if c.Status == herald.StatusFailed {
			l.Failed++
		} else {
			l.Rescheduled++
			if l.Config.WaitRetries && c.NextRetryAt != nil && now.Sub(*c.NextRetryAt) > 2*time.Minute {
				l.problem("call %s (%s): retry due at %s never ran", id, name, c.NextRetryAt.Format(time.RFC3339))
			}
		}
		if received2xx(got) > 0 {
			if extra > 0 && (k.killed || k.touched) {
				l.LostSuccess++
			} else {
				l.problem("call %s (%s): %s, but the receiver answered 2xx (logged %v)", id, name, c.Status, answers(got))
			}
		}
	case herald.StatusPending:
		l.Pending++
		// What is known of it, to find out why.
		seen := fmt.Sprintf("%d claims, job in a killed batch: %v, in a faulted request: %v", c.AttemptCount, k.killed, k.touched)
		if k.inDLQ {
			l.problem("call %s (%s): never attempted; its job is in the DLQ (%s)", id, name, seen)
		} else {
			l.problem("call %s (%s): never attempted, and no job for it is left (lost; %s)", id, name, seen)
		}
	}
}

// attemptAnswer says what answer of a receiver a recorded attempt stands
// for, and false if the attempt sent nothing.
func attemptAnswer(a herald.Attempt) (string, bool) {
	switch {
	case a.ResponseStatus != nil:
		return strconv.Itoa(*a.ResponseStatus), true
	case a.ErrorKind == herald.ErrKindTimeout:
		return AnsweredTimeout, true
	case a.ErrorKind == herald.ErrKindReset || a.ErrorKind == herald.ErrKindNetwork:
		return AnsweredReset, true
	}
	return "", false
}

func received2xx(rs []Request) int {
	n := 0
	for _, r := range rs {
		if r.Answer == AnsweredOK {
			n++
		}
	}
	return n
}

func answers(rs []Request) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Answer
	}
	return out
}

func sameCalls(a, b []herald.CallRef) bool {
	key := func(rs []herald.CallRef) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = r.WebhookID + "/" + r.CallID
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

func readCalls(ctx context.Context, store *dynamo.Store, ids []string) (map[string]*herald.Call, error) {
	out := make(map[string]*herald.Call, len(ids))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, id := range ids {
		g.Go(func() error {
			c, err := store.GetCall(gctx, project, id)
			if err != nil {
				return fmt.Errorf("read call %s: %w", id, err)
			}
			mu.Lock()
			out[id] = c
			mu.Unlock()
			return nil
		})
	}
	return out, g.Wait()
}

// Print writes the ledger for people.
func (l *Ledger) Print(w io.Writer) {
	c := l.Config
	fmt.Fprintf(w, "chaos ledger: %d events x %d webhooks, seed %d\n", l.Events, c.Webhooks, c.Seed)
	fmt.Fprintf(w, "  faults: AWS throttle %.0f%% internal %.0f%% ambiguous %.0f%% slow %.0f%%; receivers 500 %.0f%% timeout %.0f%% reset %.0f%% (first %d requests of a call); kills %.0f%% of delivery and %.0f%% of ingest invocations\n",
		100*c.AWS.Throttle, 100*c.AWS.Internal, 100*c.AWS.Ambiguous, 100*c.AWS.Slow,
		100*c.Receivers.Fail, 100*c.Receivers.Timeout, 100*c.Receivers.Reset, c.Receivers.FailFirst, 100*c.KillRate, 100*c.IngestKillRate)
	fmt.Fprintf(w, "  injected: %d delivery kills, %d ingest kills, %d AWS faults %v\n", l.DeliveryKills, l.IngestKills, sum(l.Faults), summarize(l.Faults))
	fmt.Fprintf(w, "  ingest: %d invocations, %d failed and sent again; %d events ingested again: no new call\n", l.IngestInvocations, l.IngestFailures, l.Reingested)
	fmt.Fprintf(w, "  calls: %d expected, %d in the table: %d success, %d rescheduled (retry queued; pending here), %d failed, %d never attempted\n",
		l.ExpectedCalls, l.CallItems, l.Success, l.Rescheduled, l.Failed, l.Pending)
	fmt.Fprintf(w, "  sends: %d attempts recorded, %d requests received %v; %d calls retried\n", l.Attempts, l.Requests, l.ReceiverAnswers, l.CallsWithRetries)
	fmt.Fprintf(w, "  duplicates: %d unrecorded sends (%d on killed batches, %d after AWS faults), each with its call's webhook-id; %d calls whose 2xx was lost to one\n",
		l.Duplicates, l.DupByKill, l.DupByFault, l.LostSuccess)
	fmt.Fprintf(w, "  DLQ: %d messages, by call status %v\n", l.DLQ, l.DLQByStatus)
	if n := len(l.RetryLate); n > 0 {
		late := slices.Clone(l.RetryLate)
		slices.Sort(late)
		fmt.Fprintf(w, "  retries: %d automatic retries ran, later than the schedule by median %s, p99 %s, max %s\n",
			n, late[n/2].Round(time.Second), late[n*99/100].Round(time.Second), late[n-1].Round(time.Second))
	}
	fmt.Fprintf(w, "  time: ingest %.0f s, total %.0f s; queue drained: %v\n", l.IngestSeconds, l.TotalSeconds, l.Drained)
	if l.Balanced() {
		fmt.Fprintln(w, "BALANCED")
		return
	}
	fmt.Fprintf(w, "NOT BALANCED: %d problems\n", len(l.Problems))
	for i, p := range l.Problems {
		if i == 50 {
			fmt.Fprintf(w, "  ... and %d more\n", len(l.Problems)-50)
			break
		}
		fmt.Fprintln(w, "  - "+p)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// summarize totals faults by kind.
func summarize(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		_, kind, _ := strings.Cut(k, " ")
		out[kind] += v
	}
	return out
}
