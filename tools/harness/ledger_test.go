package harness

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/ingest"
)

func TestCheckCall(t *testing.T) {
	ok, fail := 200, 500
	sent := func(status *int, kind string, success bool) herald.Attempt {
		return herald.Attempt{Number: 1, ResponseStatus: status, ErrorKind: kind, Success: success}
	}
	reqs := func(answers ...string) []Request {
		out := make([]Request, len(answers))
		for i, a := range answers {
			out[i] = Request{CallID: "c", Answer: a}
		}
		return out
	}
	yes := func(string) bool { return true }
	tests := map[string]struct {
		call    *herald.Call
		got     []Request
		run     Run
		inDLQ   bool
		problem string // "" if the call balances
	}{
		"success": {&herald.Call{Status: herald.StatusSuccess, Attempts: []herald.Attempt{sent(&ok, "", true)}}, reqs(AnsweredOK), Run{}, false, ""},
		"success never answered 2xx": {&herald.Call{Status: herald.StatusSuccess, Attempts: []herald.Attempt{sent(&ok, "", true)}},
			reqs(AnsweredFail), Run{}, false, "never answered"},
		"rescheduled after a timeout": {&herald.Call{Status: herald.StatusRescheduled, Attempts: []herald.Attempt{sent(nil, herald.ErrKindTimeout, false)}},
			reqs(AnsweredTimeout), Run{}, false, ""},
		"rescheduled though answered 2xx": {&herald.Call{Status: herald.StatusRescheduled, Attempts: []herald.Attempt{sent(&fail, "", false)}},
			reqs(AnsweredFail, AnsweredOK), Run{}, false, "not recorded"},
		"duplicate after a kill": {&herald.Call{Status: herald.StatusSuccess, Attempts: []herald.Attempt{sent(&ok, "", true)}},
			reqs(AnsweredOK, AnsweredOK), Run{Killed: yes}, false, ""},
		"duplicate after a fault": {&herald.Call{Status: herald.StatusSuccess, Attempts: []herald.Attempt{sent(&ok, "", true)}},
			reqs(AnsweredOK, AnsweredOK), Run{Faulted: yes}, false, ""},
		"2xx lost to a kill": {&herald.Call{Status: herald.StatusRescheduled, Attempts: []herald.Attempt{sent(&fail, "", false)}},
			reqs(AnsweredOK, AnsweredFail), Run{Killed: yes}, false, ""},
		"duplicate without cause": {&herald.Call{Status: herald.StatusSuccess, Attempts: []herald.Attempt{sent(&ok, "", true)}},
			reqs(AnsweredOK, AnsweredOK), Run{}, false, "no kill or fault"},
		"attempt the receiver never saw": {&herald.Call{Status: herald.StatusRescheduled, Attempts: []herald.Attempt{sent(nil, herald.ErrKindReset, false)}},
			nil, Run{}, false, "never answered"},
		"never attempted":             {&herald.Call{Status: herald.StatusPending}, nil, Run{}, false, "lost"},
		"never attempted, may wait":   {&herald.Call{Status: herald.StatusPending}, nil, Run{Waiting: true}, false, ""},
		"dead-lettered":               {&herald.Call{Status: herald.StatusPending}, nil, Run{}, true, "DLQ"},
		"sent but not recorded, wait": {&herald.Call{Status: herald.StatusPending}, reqs(AnsweredOK), Run{Waiting: true}, false, "not recorded"},
		"a retry overdue": {&herald.Call{Status: herald.StatusRescheduled, NextRetryAt: new(time.Now().Add(-3 * time.Minute)),
			Attempts: []herald.Attempt{sent(&fail, "", false)}}, reqs(AnsweredFail), Run{RetriesBy: time.Now()}, false, "never ran"},
		"an unknown status": {&herald.Call{Status: "lost"}, nil, Run{}, false, `status "lost"`},
	}
	for name, tc := range tests {
		l := &Ledger{}
		tc.call.ID, tc.call.WebhookID = "c", "w0"
		l.checkCall(tc.call, tc.got, tc.inDLQ, tc.run)
		got := strings.Join(l.Problems, "; ")
		switch {
		case tc.problem == "" && got != "":
			t.Errorf("%s: got problems %q, want none", name, got)
		case tc.problem != "" && !strings.Contains(got, tc.problem):
			t.Errorf("%s: got problems %q, want one about %q", name, got, tc.problem)
		}
	}
}

func TestCheckCallRetryLateness(t *testing.T) {
	at := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	fail, ok := 500, 200
	c := &herald.Call{ID: "c", Status: herald.StatusSuccess, Attempts: []herald.Attempt{
		{Number: 1, Trigger: herald.TriggerFirst, StartedAt: at, ResponseStatus: &fail},
		{Number: 2, Trigger: herald.TriggerAuto, StartedAt: at.Add(2*time.Minute + 5*time.Second), ResponseStatus: &fail},
		{Number: 3, Trigger: herald.TriggerAuto, StartedAt: at.Add(8*time.Minute + 7*time.Second), ResponseStatus: &ok, Success: true},
	}}
	l := &Ledger{}
	l.checkCall(c, []Request{{Answer: AnsweredFail}, {Answer: AnsweredFail}, {Answer: AnsweredOK}}, false, Run{})
	if len(l.Problems) != 0 {
		t.Fatalf("problems: %v", l.Problems)
	}
	want := []time.Duration{5 * time.Second, 2 * time.Second}
	if len(l.RetryLate) != 2 || l.RetryLate[0] != want[0] || l.RetryLate[1] != want[1] {
		t.Errorf("RetryLate = %v; want %v", l.RetryLate, want)
	}
}

// TestBalance: two events, each matching webhooks w1 and w2, against what
// the table and the receiver hold.
func TestBalance(t *testing.T) {
	ok := 200
	events := func() []Sent {
		return []Sent{
			{Event: Event{ID: "e1"}, Want: []string{"w1", "w2"}, Result: ingest.Result{Status: "accepted", Calls: []herald.CallRef{{WebhookID: "w1", CallID: "c1"}, {WebhookID: "w2", CallID: "c2"}}}},
			{Event: Event{ID: "e2"}, Want: []string{"w1", "w2"}, Result: ingest.Result{Status: "accepted", Calls: []herald.CallRef{{WebhookID: "w1", CallID: "c3"}, {WebhookID: "w2", CallID: "c4"}}}},
		}
	}
	call := func(id, webhook string, status herald.Status) *herald.Call {
		c := &herald.Call{ID: id, WebhookID: webhook, Status: status}
		if status != herald.StatusPending {
			c.Attempts = []herald.Attempt{{Number: 1, ResponseStatus: &ok, Success: true}}
		}
		return c
	}
	table := func(statuses ...herald.Status) []*herald.Call {
		ids := [][2]string{{"c1", "w1"}, {"c2", "w2"}, {"c3", "w1"}, {"c4", "w2"}}
		var out []*herald.Call
		for i, s := range statuses {
			out = append(out, call(ids[i][0], ids[i][1], s))
		}
		return out
	}
	received := func(ids ...string) []Request {
		var out []Request
		for _, id := range ids {
			out = append(out, Request{CallID: id, Answer: AnsweredOK, Path: "/" + map[string]string{"c1": "w1", "c2": "w2", "c3": "w1", "c4": "w2", "c9": "w1"}[id] + "/"})
		}
		return out
	}
	success := herald.StatusSuccess
	all := table(success, success, success, success)
	paths := map[string]string{"w1": "/w1/", "w2": "/w2/"}
	for name, tc := range map[string]struct {
		run     Run
		problem string // part of a problem; "" if it balances
		want    [3]int // delivered, failed, waiting
	}{
		"all delivered": {Run{Calls: all, Requests: received("c1", "c2", "c3", "c4"), Paths: paths}, "", [3]int{4, 0, 0}},
		"still waiting": {Run{Calls: table(success, success, herald.StatusPending, herald.StatusPending), Requests: received("c1", "c2"), Waiting: true},
			"", [3]int{2, 0, 2}},
		"waiting not allowed": {Run{Calls: table(success, success, success, herald.StatusPending), Requests: received("c1", "c2", "c3")},
			"never attempted", [3]int{3, 0, 1}},
		"a call is missing": {Run{Calls: table(success, success, success), Requests: received("c1", "c2", "c3")},
			"missing from the table", [3]int{3, 0, 0}},
		"a success never received": {Run{Calls: all, Requests: received("c1", "c2", "c3")}, "never answered 2xx", [3]int{4, 0, 0}},
		"the receiver got a call the table lacks": {Run{Calls: all, Requests: received("c1", "c2", "c3", "c4", "c9")},
			"no ingest reply named", [3]int{4, 0, 0}},
		"a doubled call": {Run{Calls: append(table(success, success, success, success), call("c5", "w1", herald.StatusPending)),
			Requests: received("c1", "c2", "c3", "c4"), Waiting: true}, "no ingest reply named it", [3]int{4, 0, 1}},
		"a call for another webhook": {Run{Calls: append(table(success, success, success), call("c4", "w1", success)),
			Requests: received("c1", "c2", "c3", "c4")}, "the reply said w2", [3]int{4, 0, 0}},
		"a request at another webhook's path": {Run{Calls: all, Requests: append(received("c1", "c2", "c3"), Request{CallID: "c4", Answer: AnsweredOK, Path: "/w1/"}),
			Paths: paths}, "not at its webhook's path", [3]int{4, 0, 0}},
		"a bad signature": {Run{Calls: all, Requests: append(received("c1", "c2", "c3"), Request{CallID: "c4", Answer: AnsweredOK, Signature: "no valid signature"})},
			"did not check", [3]int{4, 0, 0}},
		"a duplicate request": {Run{Calls: all, Requests: received("c1", "c2", "c3", "c4", "c4")}, "not recorded", [3]int{4, 0, 0}},
	} {
		tc.run.Events = events()
		l := Balance(tc.run)
		if l.Balanced != (tc.problem == "") {
			t.Errorf("%s: balanced %v; want %v (problems %q)", name, l.Balanced, tc.problem == "", l.Problems)
		}
		if got := [3]int{l.Delivered, l.Failed, l.Waiting()}; got != tc.want {
			t.Errorf("%s: delivered, failed, waiting %v; want %v", name, got, tc.want)
		}
		if tc.problem != "" && !strings.Contains(strings.Join(l.Problems, "\n"), tc.problem) {
			t.Errorf("%s: problems %q; want one saying %q", name, l.Problems, tc.problem)
		}
	}
}

// TestBalanceEvents: an event is accepted with one call per webhook it
// matches and none other, and ingested again it names the same calls.
func TestBalanceEvents(t *testing.T) {
	ok := 200
	done := func(id, webhook string) *herald.Call {
		return &herald.Call{ID: id, WebhookID: webhook, Status: herald.StatusSuccess, Attempts: []herald.Attempt{{Number: 1, ResponseStatus: &ok}}}
	}
	got := []Request{{CallID: "c1", Answer: AnsweredOK}, {CallID: "c2", Answer: AnsweredOK}}
	accepted := func(refs ...herald.CallRef) ingest.Result { return ingest.Result{Status: "accepted", Calls: refs} }
	c1, c2 := herald.CallRef{WebhookID: "w1", CallID: "c1"}, herald.CallRef{WebhookID: "w1", CallID: "c2"}
	for name, tc := range map[string]struct {
		events, again []Sent
		calls         []*herald.Call
		problem       string
	}{
		"two calls for one webhook": {[]Sent{{Event: Event{ID: "e1"}, Want: []string{"w1", "w2"}, Result: accepted(c1, c2)}}, nil,
			[]*herald.Call{done("c1", "w1"), done("c2", "w1")}, "2 calls for webhook w1"},
		"a call for a webhook it does not match": {[]Sent{{Event: Event{ID: "e1"}, Want: []string{"w2"}, Result: accepted(c1)}}, nil,
			[]*herald.Call{done("c1", "w1")}, "which does not match it"},
		"not accepted": {[]Sent{{Event: Event{ID: "e1"}, Want: []string{"w1"}}}, nil, nil, "not accepted"},
		"again, a new call": {[]Sent{{Event: Event{ID: "e1"}, Want: []string{"w1"}, Result: accepted(c1)}},
			[]Sent{{Event: Event{ID: "e1"}, Result: ingest.Result{Status: "duplicate", Calls: []herald.CallRef{c2}}}},
			[]*herald.Call{done("c1", "w1")}, "ingested again"},
		"again, the same": {[]Sent{{Event: Event{ID: "e1"}, Want: []string{"w1"}, Result: accepted(c1)}},
			[]Sent{{Event: Event{ID: "e1"}, Result: ingest.Result{Status: "duplicate", Calls: []herald.CallRef{c1}}}},
			[]*herald.Call{done("c1", "w1")}, ""},
	} {
		l := Balance(Run{Events: tc.events, Again: tc.again, Calls: tc.calls, Requests: got[:len(tc.calls)]})
		if all := strings.Join(l.Problems, "\n"); (tc.problem == "") != l.Balanced || !strings.Contains(all, tc.problem) {
			t.Errorf("%s: problems %q; want one saying %q", name, l.Problems, tc.problem)
		}
	}
}

// TestCMS: a batch is sent again whole until the invocation answers, and
// given up after Tries; one event goes alone, more as {"events": [...]}.
func TestCMS(t *testing.T) {
	e, err := NewEvents("p1", "cms")
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	for i := range 3 {
		ev, err := e.Make(i, "update", "1423", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	failures := 2
	var payloads []string
	cms := &CMS{Tries: 3, Invoke: func(_ context.Context, payload []byte) ([]byte, error) {
		payloads = append(payloads, string(payload))
		if len(payloads) <= failures {
			return nil, errors.New("crashed")
		}
		var out []string
		for _, ev := range evs[:strings.Count(string(payload), `"event_id"`)] {
			out = append(out, `{"event_id":"`+ev.ID+`","status":"accepted","calls":[]}`)
		}
		return []byte(`{"results":[` + strings.Join(out, ",") + `]}`), nil
	}}
	results, tries, err := cms.Send(context.Background(), evs)
	if err != nil || tries != 3 || len(results) != 3 || results[2].EventID != evs[2].ID || !strings.HasPrefix(payloads[0], `{"events":[`) {
		t.Errorf("got %v, %d tries, %v; want 3 results on the third try of a batch", results, tries, err)
	}
	if cms.Invocations.Load() != 3 || cms.Failures.Load() != 2 {
		t.Errorf("counted %d invocations, %d failures; want 3 and 2", cms.Invocations.Load(), cms.Failures.Load())
	}
	payloads, failures = nil, 0
	if results, _, err := cms.Send(context.Background(), evs[:1]); err != nil || len(results) != 1 || payloads[0] != string(evs[0].Raw) {
		t.Errorf("one event: got %v, %v, sent %.80s; want it alone", results, err, payloads[0])
	}
	payloads, failures = nil, 5
	if _, tries, err := cms.Send(context.Background(), evs); err == nil || tries != 3 || !strings.Contains(err.Error(), "after 3 tries") {
		t.Errorf("always failing: %d tries, %v; want an error after 3", tries, err)
	}
}

// TestEvents: each event has its own id, type, model and send time in
// place, and making one leaves the others as they were.
func TestEvents(t *testing.T) {
	e, err := NewEvents("p1", "run")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_800_000_000, 0)
	a, err := e.Make(1, "publish", "77", at)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := e.Make(2, "update", "1423", at.Add(time.Second))
	ev, subject, err := herald.ParseEvent(a.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b.ID || ev.EventID != a.ID || ev.ProjectID != "p1" || ev.EventType != "publish" || !strings.Contains(string(a.Raw), `"id":"77"`) {
		t.Errorf("event a: %s %s %s (subject %+v)", ev.EventID, ev.ProjectID, ev.EventType, subject)
	}
	if !strings.Contains(string(a.Raw), `"seq":1`) || !strings.Contains(string(b.Raw), `"seq":2`) || strings.Contains(string(b.Raw), `"id":"77"`) {
		t.Errorf("the events share what they change:\n%s\n%s", a.Raw, b.Raw)
	}
}
