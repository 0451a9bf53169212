package harness

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/ingest"
)

// Run is what a ledger balances: what was sent, what the table holds and
// what the receiver logged.
type Run struct {
	Events   []Sent         // every event sent, with its reply's result
	Again    []Sent         // events ingested a second time, which must create nothing
	Calls    []*herald.Call // the project's calls in the table (dynamo.Store.ScanCalls)
	Requests []Request      // the receiver's log
	Paths    map[string]string
	DLQ      []herald.Job // the jobs found in the dead-letter queues
	// Killed and Faulted say whether a call's job was in a killed batch, or
	// an AWS fault hit a request naming it: only then may it have been sent
	// without its attempt being recorded. nil: never.
	Killed, Faulted func(callID string) bool
	// Waiting allows calls that still wait for their attempt (pending or
	// rescheduled): the run stopped waiting before the queues emptied, or
	// ran without the delivery function.
	Waiting bool
	// RetriesBy, if set, is when the run ended: a call still rescheduled
	// whose retry was due more than 2 minutes before is a problem.
	RetriesBy time.Time
}

// Sent is an event of a run: its reply's result (Status "" if it was never
// accepted) and the webhooks (ids) it should match.
type Sent struct {
	Event  Event
	Result ingest.Result
	Want   []string
}

// Ledger is the account of a run, and every disagreement (Problems).
type Ledger struct {
	Events       int `json:"events_accepted"`
	Reingested   int `json:"events_ingested_again"`
	Expected     int `json:"expected_calls"` // (event, matching webhook) pairs
	CallsInTable int `json:"calls_in_table"`

	Delivered   int `json:"delivered"`   // success
	Failed      int `json:"failed"`      // failed for good
	Rescheduled int `json:"rescheduled"` // failed, a retry queued
	Pending     int `json:"pending"`     // never attempted

	Attempts      int            `json:"attempts"`          // attempts recorded
	Retried       int            `json:"calls_retried"`     // calls with more than one
	Requests      int            `json:"received_requests"` // requests the receiver logged
	ReceivedCalls int            `json:"received_calls"`    // distinct calls among them
	Answers       map[string]int `json:"answers"`           // requests by what the receiver did
	// Duplicates are requests no recorded attempt accounts for: sends
	// whose record a kill (DupByKill) or an AWS fault (DupByFault) lost.
	Duplicates  int `json:"duplicate_requests"`
	DupByKill   int `json:"duplicates_after_kills"`
	DupByFault  int `json:"duplicates_after_faults"`
	LostSuccess int `json:"calls_whose_2xx_was_lost"` // a 2xx went to such a send

	DLQ         int            `json:"dlq_messages"`
	DLQByStatus map[string]int `json:"dlq_by_call_status,omitempty"`
	// RetryLate is how much later than the schedule each automatic retry
	// started (guarantee 5).
	RetryLate []time.Duration `json:"-"`

	Balanced bool     `json:"balanced"`
	Problems []string `json:"problems,omitempty"`
}

// Waiting is how many calls still wait for an attempt.
func (l *Ledger) Waiting() int { return l.Pending + l.Rescheduled }

func (l *Ledger) problem(format string, args ...any) {
	l.Problems = append(l.Problems, fmt.Sprintf(format, args...))
}

// Balance checks a run: every accepted event has exactly one call per
// matching webhook, and an event ingested again none more (guarantees 1
// and 2); the table holds exactly the calls the replies named; every
// request reached its webhook's path with a valid signature; and each call
// agrees with what the receiver logged for it (checkCall).
func Balance(r Run) Ledger {
	l := Ledger{Answers: map[string]int{}, DLQByStatus: map[string]int{}}
	named := map[string]herald.CallRef{} // call id → what the reply said
	eventOf := map[string]string{}       // call id → event id
	first := map[string]ingest.Result{}  // event id → its first reply
	for _, s := range r.Events {
		first[s.Event.ID] = s.Result
		if st := s.Result.Status; st != "accepted" && st != "duplicate" {
			l.problem("event %s: not accepted (%q)", s.Event.ID, st)
			continue
		}
		l.Events++
		l.Expected += len(s.Want)
		got := map[string]int{}
		for _, c := range s.Result.Calls {
			got[c.WebhookID]++
			if prev, dup := eventOf[c.CallID]; dup {
				l.problem("call %s: named by events %s and %s", c.CallID, prev, s.Event.ID)
			}
			named[c.CallID], eventOf[c.CallID] = c, s.Event.ID
		}
		for _, id := range s.Want {
			if got[id] != 1 {
				l.problem("event %s: %d calls for webhook %s; want 1", s.Event.ID, got[id], id)
			}
		}
		for id := range got {
			if !slices.Contains(s.Want, id) {
				l.problem("event %s: a call for webhook %s, which does not match it", s.Event.ID, id)
			}
		}
	}
	for _, s := range r.Again {
		l.Reingested++
		if was := first[s.Event.ID]; s.Result.Status != "duplicate" || !sameCalls(was.Calls, s.Result.Calls) {
			l.problem("event %s ingested again: %s with calls %v; first %v", s.Event.ID, s.Result.Status, s.Result.Calls, was.Calls)
		}
	}

	requests := map[string][]Request{}
	for _, q := range r.Requests {
		l.Requests++
		l.Answers[q.Answer]++
		ref, ok := named[q.CallID]
		switch {
		case !ok:
			l.problem("the receiver got a request with webhook-id %q, a call no ingest reply named", q.CallID)
			continue
		case r.Paths != nil && !strings.HasPrefix(q.Path, r.Paths[ref.WebhookID]):
			l.problem("call %s of webhook %s arrived at %s, not at its webhook's path", q.CallID, ref.WebhookID, q.Path)
		case q.Signature != "" && q.Signature != SignatureValid:
			l.problem("call %s: its signature did not check: %s", q.CallID, q.Signature)
		}
		requests[q.CallID] = append(requests[q.CallID], q)
	}
	l.ReceivedCalls = len(requests)

	dlq := map[string]int{} // messages by call id
	for _, j := range r.DLQ {
		dlq[j.CallID]++
	}
	l.CallsInTable = len(r.Calls)
	inTable := map[string]bool{}
	for _, c := range r.Calls {
		inTable[c.ID] = true
		switch ref, ok := named[c.ID]; {
		case !ok:
			l.problem("call %s (webhook %s) is in the table, but no ingest reply named it", c.ID, c.WebhookID)
		case ref.WebhookID != c.WebhookID:
			l.problem("call %s is for webhook %s; the reply said %s", c.ID, c.WebhookID, ref.WebhookID)
		}
		l.checkCall(c, requests[c.ID], dlq[c.ID] > 0, r)
		if n := dlq[c.ID]; n > 0 {
			l.DLQ += n
			l.DLQByStatus[string(c.Status)] += n
		}
	}
	for _, id := range slices.Sorted(maps.Keys(named)) {
		if !inTable[id] {
			l.problem("call %s of event %s is missing from the table", id, eventOf[id])
		}
	}
	for _, id := range slices.Sorted(maps.Keys(dlq)) {
		if !inTable[id] {
			l.problem("%d DLQ messages name call %q, not a call of the run", dlq[id], id)
		}
	}
	if sum := l.Delivered + l.Failed + l.Waiting(); sum != l.Expected || l.CallsInTable != l.Expected {
		l.problem("%d (event, webhook) pairs match; the table holds %d calls: %d delivered + %d failed + %d waiting",
			l.Expected, l.CallsInTable, l.Delivered, l.Failed, l.Waiting())
	}
	l.Balanced = len(l.Problems) == 0
	return l
}

// Settle reads a project's calls until every request the receiver logged
// is recorded (a send is recorded after its answer, so the last ones may
// lag the receiver), at most for limit, and returns the last read.
func Settle(ctx context.Context, store *dynamo.Store, project string, rcv *Receiver, limit time.Duration) ([]*herald.Call, error) {
	deadline := time.Now().Add(limit)
	for {
		calls, err := store.ScanCalls(ctx, project)
		if err != nil || time.Now().After(deadline) {
			return calls, err
		}
		unrecorded := map[string]int{} // requests logged less the sends recorded, by call
		for _, q := range rcv.Log() {
			unrecorded[q.CallID]++
		}
		for _, c := range calls {
			for _, a := range c.Attempts {
				if _, sent := attemptAnswer(a); sent {
					unrecorded[c.ID]--
				}
			}
		}
		if !slices.ContainsFunc(calls, func(c *herald.Call) bool { return unrecorded[c.ID] > 0 }) {
			return calls, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// checkCall accounts for one call: every recorded send matches a request
// the receiver logged with the answer it gave; a request no attempt
// recorded (a duplicate) is allowed only on a call a kill or an AWS fault
// hit; a success got a 2xx; a failed or rescheduled call got none, unless
// that 2xx went to an unrecorded send; and a call is never left
// unattempted unless the run allows waiting.
func (l *Ledger) checkCall(c *herald.Call, got []Request, inDLQ bool, r Run) {
	id, hook := c.ID, c.WebhookID
	killed := r.Killed != nil && r.Killed(id)
	faulted := r.Faulted != nil && r.Faulted(id)
	l.Attempts += len(c.Attempts)
	if len(c.Attempts) > 1 {
		l.Retried++
	}
	received := map[string]int{}
	for _, q := range got {
		received[q.Answer]++
	}
	sends, auto := 0, 0
	for i, a := range c.Attempts {
		if i > 0 && a.Trigger == herald.TriggerAuto && auto < len(herald.RetryDelays) {
			l.RetryLate = append(l.RetryLate, a.StartedAt.Sub(c.Attempts[i-1].StartedAt)-herald.RetryDelays[auto])
			auto++
		}
		answer, sent := attemptAnswer(a)
		if !sent {
			l.problem("call %s (webhook %s): attempt %d not sent: %s %s", id, hook, a.Number, a.ErrorKind, a.Error)
			continue
		}
		sends++
		if received[answer] == 0 {
			l.problem("call %s (webhook %s): attempt %d recorded %q, which the receiver never answered (it logged %v)", id, hook, a.Number, answer, answers(got))
			continue
		}
		received[answer]--
	}
	extra := len(got) - sends
	if extra > 0 {
		l.Duplicates += extra
		switch {
		case killed:
			l.DupByKill += extra
		case faulted:
			l.DupByFault += extra
		default:
			l.problem("call %s (webhook %s): %d sends not recorded, with no kill or fault on it (the receiver logged %v, the call has %d attempts)", id, hook, extra, answers(got), sends)
		}
	}
	got2xx := slices.ContainsFunc(got, func(q Request) bool { return q.Answer == AnsweredOK })
	switch c.Status {
	case herald.StatusSuccess:
		l.Delivered++
		if !got2xx {
			l.problem("call %s (webhook %s): success, but the receiver never answered 2xx", id, hook)
		}
	case herald.StatusRescheduled, herald.StatusFailed:
		if c.Status == herald.StatusFailed {
			l.Failed++
		} else {
			l.Rescheduled++
			if !r.RetriesBy.IsZero() && c.NextRetryAt != nil && r.RetriesBy.Sub(*c.NextRetryAt) > 2*time.Minute {
				l.problem("call %s (webhook %s): retry due at %s never ran", id, hook, c.NextRetryAt.Format(time.RFC3339))
			}
		}
		if got2xx {
			if extra > 0 && (killed || faulted) {
				l.LostSuccess++
			} else {
				l.problem("call %s (webhook %s): %s, but the receiver answered 2xx (it logged %v)", id, hook, c.Status, answers(got))
			}
		}
	case herald.StatusPending:
		l.Pending++
		if r.Waiting {
			return
		}
		// What is known of it, to find out why.
		seen := fmt.Sprintf("%d claims, job in a killed batch: %v, in a faulted request: %v", c.AttemptCount, killed, faulted)
		if inDLQ {
			l.problem("call %s (webhook %s): never attempted; its job is in the DLQ (%s)", id, hook, seen)
		} else {
			l.problem("call %s (webhook %s): never attempted, and no job for it is left (lost; %s)", id, hook, seen)
		}
	default:
		l.problem("call %s (webhook %s) has status %q", id, hook, c.Status)
	}
}

// attemptAnswer says what answer of the receiver a recorded attempt stands
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

func answers(rs []Request) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Answer
	}
	return out
}

func sameCalls(a, b []herald.CallRef) bool {
	byID := func(x, y herald.CallRef) int { return cmp.Compare(x.CallID, y.CallID) }
	return slices.Equal(slices.SortedFunc(slices.Values(a), byID), slices.SortedFunc(slices.Values(b), byID))
}

// Print writes the ledger for people: where the calls stand, what was sent
// and received, and every problem (the first 50).
func (l *Ledger) Print(w io.Writer) {
	fmt.Fprintf(w, "  calls: %d expected, %d in the table: %d success, %d rescheduled (retry queued), %d failed, %d never attempted\n",
		l.Expected, l.CallsInTable, l.Delivered, l.Rescheduled, l.Failed, l.Pending)
	fmt.Fprintf(w, "  sends: %d attempts recorded, %d requests received for %d calls %v; %d calls retried\n", l.Attempts, l.Requests, l.ReceivedCalls, l.Answers, l.Retried)
	fmt.Fprintf(w, "  duplicates: %d unrecorded sends (%d on killed batches, %d after AWS faults), each with its call's webhook-id; %d calls whose 2xx was lost to one\n",
		l.Duplicates, l.DupByKill, l.DupByFault, l.LostSuccess)
	if l.Reingested > 0 || l.DLQ > 0 {
		fmt.Fprintf(w, "  %d events ingested again: no new call; DLQ: %d messages, by call status %v\n", l.Reingested, l.DLQ, l.DLQByStatus)
	}
	if n := len(l.RetryLate); n > 0 {
		late := slices.Sorted(slices.Values(l.RetryLate))
		fmt.Fprintf(w, "  retries: %d automatic retries ran, later than the schedule by median %s, p99 %s, max %s\n",
			n, late[n/2].Round(time.Second), late[n*99/100].Round(time.Second), late[n-1].Round(time.Second))
	}
	if l.Balanced {
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
