package chaos

import (
	"fmt"
	"io"
	"strings"

	"github.com/heraldhq/herald/tools/harness"
)

// Result is a chaos run: what it injected and its ledger.
type Result struct {
	Config  Config
	Drained bool // the delivery queues emptied within Config.Drain
	Ledger  harness.Ledger

	DeliveryKills, IngestKills        int
	IngestInvocations, IngestFailures int
	Faults                            map[string]int // AWS faults by "<service>.<Op> <fault>"
	IngestSeconds, TotalSeconds       float64
}

// Print writes the result for people.
func (r *Result) Print(w io.Writer) {
	c, l := r.Config, &r.Ledger
	fmt.Fprintf(w, "chaos ledger: %d events x %d webhooks, seed %d\n", c.Events, c.Webhooks, c.Seed)
	fmt.Fprintf(w, "  faults: AWS throttle %.0f%% internal %.0f%% ambiguous %.0f%% slow %.0f%%; receivers 500 %.0f%% timeout %.0f%% reset %.0f%% (first %d requests of a call); kills %.0f%% of delivery and %.0f%% of ingest invocations\n",
		100*c.AWS.Throttle, 100*c.AWS.Internal, 100*c.AWS.Ambiguous, 100*c.AWS.Slow,
		100*c.Receivers.Fail, 100*c.Receivers.Timeout, 100*c.Receivers.Reset, c.Receivers.FailFirst, 100*c.KillRate, 100*c.IngestKillRate)
	fmt.Fprintf(w, "  injected: %d delivery kills, %d ingest kills, %d AWS faults %v\n", r.DeliveryKills, r.IngestKills, sum(r.Faults), summarize(r.Faults))
	fmt.Fprintf(w, "  ingest: %d invocations, %d failed and sent again; %d events ingested again\n", r.IngestInvocations, r.IngestFailures, l.Reingested)
	fmt.Fprintf(w, "  time: ingest %.0f s, total %.0f s; queues drained: %v\n", r.IngestSeconds, r.TotalSeconds, r.Drained)
	l.Print(w)
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
