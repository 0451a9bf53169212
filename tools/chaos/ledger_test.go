package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/herald"
)

func TestCheckCall(t *testing.T) {
	ok, fail := 200, 500
	sent := func(status *int, kind string, success bool) herald.Attempt {
		return herald.Attempt{Number: 1, ResponseStatus: status, ErrorKind: kind, Success: success}
	}
	reqs := func(answers ...string) []Request {
		out := make([]Request, len(answers))
		for i, a := range answers {
			out[i] = Request{WebhookID: "c", Answer: a}
		}
		return out
	}
	tests := map[string]struct {
		check   callCheck
		problem string // "" if the call balances
	}{
		"success": {callCheck{call: &herald.Call{Status: herald.StatusSuccess, Attempts: []herald.Attempt{sent(&ok, "", true)}},
			got: reqs(AnsweredOK)}, ""},
		"success never answered 2xx": {callCheck{call: &herald.Call{Status: herald.StatusSuccess, Attempts: []herald.Attempt{sent(&ok, "", true)}},
			got: reqs(AnsweredFail)}, "never answered"},
		"rescheduled after a timeout": {callCheck{call: &herald.Call{Status: herald.StatusRescheduled, Attempts: []herald.Attempt{sent(nil, herald.ErrKindTimeout, false)}},
			got: reqs(AnsweredTimeout)}, ""},
		"rescheduled though answered 2xx": {callCheck{call: &herald.Call{Status: herald.StatusRescheduled, Attempts: []herald.Attempt{sent(&fail, "", false)}},
			got: reqs(AnsweredFail, AnsweredOK)}, "not recorded"},
		"duplicate after a kill": {callCheck{call: &herald.Call{Status: herald.StatusSuccess, Attempts: []herald.Attempt{sent(&ok, "", true)}},
			got: reqs(AnsweredOK, AnsweredOK), killed: true}, ""},
		"2xx lost to a kill": {callCheck{call: &herald.Call{Status: herald.StatusRescheduled, Attempts: []herald.Attempt{sent(&fail, "", false)}},
			got: reqs(AnsweredOK, AnsweredFail), killed: true}, ""},
		"duplicate without cause": {callCheck{call: &herald.Call{Status: herald.StatusSuccess, Attempts: []herald.Attempt{sent(&ok, "", true)}},
			got: reqs(AnsweredOK, AnsweredOK)}, "no kill or fault"},
		"attempt the receiver never saw": {callCheck{call: &herald.Call{Status: herald.StatusRescheduled, Attempts: []herald.Attempt{sent(nil, herald.ErrKindReset, false)}},
			got: nil}, "never answered"},
		"never attempted": {callCheck{call: &herald.Call{Status: herald.StatusPending}}, "lost"},
		"dead-lettered":   {callCheck{call: &herald.Call{Status: herald.StatusPending}, inDLQ: true}, "DLQ"},
	}
	for name, tc := range tests {
		l := &Ledger{}
		tc.check.id, tc.check.receiver = "c", "hook0"
		l.checkCall(tc.check, time.Now())
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
	c := &herald.Call{Status: herald.StatusSuccess, Attempts: []herald.Attempt{
		{Number: 1, Trigger: herald.TriggerFirst, StartedAt: at, ResponseStatus: &fail},
		{Number: 2, Trigger: herald.TriggerAuto, StartedAt: at.Add(2*time.Minute + 5*time.Second), ResponseStatus: &fail},
		{Number: 3, Trigger: herald.TriggerAuto, StartedAt: at.Add(8*time.Minute + 7*time.Second), ResponseStatus: &ok, Success: true},
	}}
	l := &Ledger{}
	l.checkCall(callCheck{id: "c", receiver: "hook0", call: c,
		got: []Request{{Answer: AnsweredFail}, {Answer: AnsweredFail}, {Answer: AnsweredOK}}}, time.Now())
	if len(l.Problems) != 0 {
		t.Fatalf("problems: %v", l.Problems)
	}
	want := []time.Duration{5 * time.Second, 2 * time.Second}
	if len(l.RetryLate) != 2 || l.RetryLate[0] != want[0] || l.RetryLate[1] != want[1] {
		t.Errorf("RetryLate = %v; want %v", l.RetryLate, want)
	}
}
