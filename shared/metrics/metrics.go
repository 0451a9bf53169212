// Package metrics writes Herald's CloudWatch metrics as embedded metric
// format (EMF) lines in the functions' logs: CloudWatch Logs turns them into
// metrics, with no API call and no agent. Each invocation writes a few
// lines at its end, whatever the number of calls it handled: the values of
// one metric are gathered into one line (docs/operations.md lists them).
//
// Metrics are dimensioned by function, a logical id ("DeliveryFunction", not
// the deployed name, so that alarms and the dashboard name it statically),
// and deliveries also by outcome, a closed list. Never by project: projects
// are tenants, as many as there are customers, and each dimension value is
// a custom metric billed by the month; per-project figures come from the
// logs, which carry the project on every line.
package metrics

import (
	"encoding/json"
	"io"
	"maps"
	"slices"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of Herald's metrics.
const Namespace = "Herald"

// The metrics, by name.
const (
	Deliveries      = "Deliveries"      // Count: one per attempt, by Outcome
	AttemptDuration = "AttemptDuration" // Milliseconds: the POST of an attempt that was sent
	EndToEndDelay   = "EndToEndDelay"   // Milliseconds: from the event's ingestion to its call's first attempt
	IngestEvents    = "IngestEvents"    // Count: events ingested (accepted or seen again)
	IngestMatches   = "IngestMatches"   // Count: calls those events made
	SweepBacklog    = "SweepBacklog"    // Count: parked retries already due when a sweep ran
	SweepLag        = "SweepLag"        // Seconds: how late the most overdue retry a sweep queued was
)

// Outcomes of an attempt, the values of Deliveries' Outcome dimension.
const (
	OutcomeSuccess     = "success"     // a 2xx
	OutcomeFailed      = "failed"      // failed, and no retry is left
	OutcomeRescheduled = "rescheduled" // failed; a retry is scheduled
	OutcomeNotSent     = "not_sent"    // not sent: the webhook is gone or disabled, the request would not render or sign
)

// Catalog is every metric with its unit, the function that writes it and
// the dimension sets it is written under. The template's alarms and
// dashboard are held to it (tools/deploy), and herald-cost counts it.
var Catalog = map[string]struct {
	Unit       string
	Function   string // the logical id of the one function that writes it
	Dimensions [][]string
}{
	Deliveries:      {"Count", delivery, [][]string{{"Function"}, {"Function", "Outcome"}}},
	AttemptDuration: {"Milliseconds", delivery, [][]string{{"Function"}}},
	EndToEndDelay:   {"Milliseconds", delivery, [][]string{{"Function"}}},
	IngestEvents:    {"Count", ingest, [][]string{{"Function"}}},
	IngestMatches:   {"Count", ingest, [][]string{{"Function"}}},
	SweepBacklog:    {"Count", delivery, [][]string{{"Function"}}},
	SweepLag:        {"Seconds", delivery, [][]string{{"Function"}}},
}

const (
	delivery = "DeliveryFunction"
	ingest   = "IngestFunction"
)

// CustomMetrics is how many metrics CloudWatch bills for the catalog: one
// per name and combination of dimension values.
func CustomMetrics() int {
	n := 0
	for _, m := range Catalog {
		for _, dims := range m.Dimensions {
			if slices.Contains(dims, "Outcome") {
				n += len(Outcomes)
			} else {
				n++
			}
		}
	}
	return n
}

// Outcomes lists the Outcome values.
var Outcomes = []string{OutcomeSuccess, OutcomeFailed, OutcomeRescheduled, OutcomeNotSent}

// maxValues is EMF's limit on the values of one metric in one line.
const maxValues = 100

// Recorder gathers one invocation's metrics; Flush writes them. It is safe
// for the goroutines of one invocation.
type Recorder struct {
	w        io.Writer
	function string
	mu       sync.Mutex
	counts   map[string]map[string]float64 // metric → outcome ("" for none) → sum
	values   map[string][]float64          // metric → values
}

// New returns a Recorder writing to w for a function.
func New(w io.Writer, function string) *Recorder {
	return &Recorder{w: w, function: function, counts: map[string]map[string]float64{}, values: map[string][]float64{}}
}

// Count adds n to a count metric; outcome is "" but for Deliveries.
func (r *Recorder) Count(metric, outcome string, n float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts[metric] == nil {
		r.counts[metric] = map[string]float64{}
	}
	r.counts[metric][outcome] += n
}

// Observe records one value of a metric (a duration, a lag).
func (r *Recorder) Observe(metric string, v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.values[metric] = append(r.values[metric], v)
}

// Flush writes what was recorded since the last Flush, one EMF line per
// group of metrics that share dimension values, and forgets it.
func (r *Recorder) Flush(now time.Time) error {
	r.mu.Lock()
	counts, values := r.counts, r.values
	r.counts, r.values = map[string]map[string]float64{}, map[string][]float64{}
	r.mu.Unlock()

	// Counts by outcome: one line per outcome (Deliveries); the rest, and
	// every observed value, in one line with the function alone.
	byOutcome := map[string]map[string]any{}
	plain := map[string]any{}
	for metric, outs := range counts {
		for outcome, n := range outs {
			if outcome == "" {
				plain[metric] = n
				continue
			}
			if byOutcome[outcome] == nil {
				byOutcome[outcome] = map[string]any{}
			}
			byOutcome[outcome][metric] = n
		}
	}
	for metric, vs := range values {
		if len(vs) > maxValues {
			vs = vs[:maxValues] // a batch holds 10 messages: never reached
		}
		plain[metric] = vs
	}
	for _, outcome := range sortedKeys(byOutcome) {
		fields := byOutcome[outcome]
		if err := r.write(now, fields, map[string]string{"Outcome": outcome}, [][]string{{"Function"}, {"Function", "Outcome"}}); err != nil {
			return err
		}
	}
	if len(plain) > 0 {
		return r.write(now, plain, nil, [][]string{{"Function"}})
	}
	return nil
}

type metricDef struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type directive struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []metricDef `json:"Metrics"`
}

func (r *Recorder) write(now time.Time, fields map[string]any, dims map[string]string, sets [][]string) error {
	doc := map[string]any{"Function": r.function}
	for k, v := range dims {
		doc[k] = v
	}
	d := directive{Namespace: Namespace, Dimensions: sets}
	for _, name := range sortedKeys(fields) {
		doc[name] = fields[name]
		d.Metrics = append(d.Metrics, metricDef{Name: name, Unit: Catalog[name].Unit})
	}
	doc["_aws"] = map[string]any{"Timestamp": now.UnixMilli(), "CloudWatchMetrics": []directive{d}}
	line, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	_, err = r.w.Write(append(line, '\n'))
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
