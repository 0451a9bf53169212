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
	"math"
	"slices"
	"strconv"
	"strings"
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

// New returns a Recorder writing to w for a function; nil writes nowhere.
func New(w io.Writer, function string) *Recorder {
	if w == nil {
		w = io.Discard
	}
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
	defer r.mu.Unlock()
	counts, values := r.counts, r.values
	defer func() {
		// Emptied, not replaced: a warm function reuses them.
		for _, outs := range counts {
			clear(outs)
		}
		for k, vs := range values {
			values[k] = vs[:0]
		}
	}()

	// Counts by outcome: one line per outcome (Deliveries); the rest, and
	// every observed value, in one line with the function alone.
	byOutcome := map[string][]field{}
	var plain []field
	for _, metric := range sortedKeys(counts) {
		for outcome, n := range counts[metric] { // emptied since the last Flush: none
			f := field{name: metric, values: []float64{n}}
			if outcome == "" {
				plain = append(plain, f)
			} else {
				byOutcome[outcome] = append(byOutcome[outcome], f)
			}
		}
	}
	// EMF takes at most maxValues values of a metric in a line: the first
	// go with the rest, any more in lines of their own (a batch of 10
	// messages never has that many).
	var overflow []field
	for _, metric := range sortedKeys(values) {
		vs := values[metric]
		if len(vs) == 0 {
			continue
		}
		plain = append(plain, field{name: metric, values: vs[:min(len(vs), maxValues)], list: true})
		for vs = vs[min(len(vs), maxValues):]; len(vs) > 0; vs = vs[min(len(vs), maxValues):] {
			overflow = append(overflow, field{name: metric, values: vs[:min(len(vs), maxValues)], list: true})
		}
	}
	slices.SortFunc(plain, func(a, b field) int { return strings.Compare(a.name, b.name) })
	var out []byte
	for _, outcome := range sortedKeys(byOutcome) {
		out = r.appendLine(out, now, byOutcome[outcome], outcome)
	}
	if len(plain) > 0 {
		out = r.appendLine(out, now, plain, "")
	}
	for _, f := range overflow {
		out = r.appendLine(out, now, []field{f}, "")
	}
	if len(out) == 0 {
		return nil
	}
	_, err := r.w.Write(out)
	return err
}

// field is one metric of a line: a count, or a list of observed values.
type field struct {
	name   string
	values []float64
	list   bool
}

// appendLine appends one EMF line: the dimension values, the metrics'
// values, and the directive that names them. Every name and dimension is
// one of this package's constants, plain ASCII, so the line is written
// directly rather than through encoding/json (it is written on every
// invocation).
func (r *Recorder) appendLine(b []byte, now time.Time, fields []field, outcome string) []byte {
	b = append(b, `{"Function":`...)
	b = strconv.AppendQuote(b, r.function)
	if outcome != "" {
		b = append(b, `,"Outcome":`...)
		b = strconv.AppendQuote(b, outcome)
	}
	for _, f := range fields {
		b = append(b, ',', '"')
		b = append(b, f.name...)
		b = append(b, '"', ':')
		if !f.list {
			b = appendNumber(b, f.values[0])
			continue
		}
		b = append(b, '[')
		for i, v := range f.values {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendNumber(b, v)
		}
		b = append(b, ']')
	}
	b = append(b, `,"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, now.UnixMilli(), 10)
	b = append(b, `,"CloudWatchMetrics":[{"Namespace":"`+Namespace+`","Dimensions":`...)
	if outcome != "" {
		b = append(b, `[["Function"],["Function","Outcome"]]`...)
	} else {
		b = append(b, `[["Function"]]`...)
	}
	b = append(b, `,"Metrics":[`...)
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Name":"`...)
		b = append(b, f.name...)
		b = append(b, `","Unit":"`...)
		b = append(b, Catalog[f.name].Unit...)
		b = append(b, `"}`...)
	}
	return append(b, "]}]}}\n"...)
}

// appendNumber writes a value as a JSON number; one JSON cannot hold (NaN,
// an infinity) as 0.
func appendNumber(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// Line is one EMF line read back: its dimension values and the values of
// each metric it names, a count as one value.
type Line struct {
	Function, Outcome string
	Values            map[string][]float64
}

// Parse reads an EMF line as Flush writes it, with anything before its
// opening brace (an emulator's prefix) ignored; false for any other line.
// Tests and `make dev` read the functions' metrics back with it.
func Parse(s string) (Line, bool) {
	i := strings.IndexByte(s, '{')
	if i < 0 || !strings.Contains(s, `"_aws":`) {
		return Line{}, false
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal([]byte(s[i:]), &doc) != nil {
		return Line{}, false
	}
	var aws struct {
		CloudWatchMetrics []struct {
			Namespace string
			Metrics   []struct{ Name string }
		}
	}
	if json.Unmarshal(doc["_aws"], &aws) != nil || len(aws.CloudWatchMetrics) == 0 {
		return Line{}, false
	}
	l := Line{Values: map[string][]float64{}}
	_ = json.Unmarshal(doc["Function"], &l.Function)
	_ = json.Unmarshal(doc["Outcome"], &l.Outcome)
	for _, d := range aws.CloudWatchMetrics {
		if d.Namespace != Namespace {
			return Line{}, false
		}
		for _, m := range d.Metrics {
			var one float64
			var many []float64
			switch {
			case json.Unmarshal(doc[m.Name], &one) == nil:
				l.Values[m.Name] = []float64{one}
			case json.Unmarshal(doc[m.Name], &many) == nil:
				l.Values[m.Name] = many
			default:
				return Line{}, false // a metric named without a value
			}
		}
	}
	return l, true
}

// String is the line in short: "DeliveryFunction Deliveries{success}=3
// AttemptDuration=[12 40]".
func (l Line) String() string {
	var b strings.Builder
	b.WriteString(l.Function)
	for _, name := range sortedKeys(l.Values) {
		b.WriteByte(' ')
		b.WriteString(name)
		if l.Outcome != "" {
			b.WriteString("{" + l.Outcome + "}")
		}
		vs := l.Values[name]
		if len(vs) == 1 && Catalog[name].Unit == "Count" {
			b.WriteString("=" + strconv.FormatFloat(vs[0], 'g', -1, 64))
			continue
		}
		b.WriteString("=[")
		for i, v := range vs {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
		b.WriteByte(']')
	}
	return b.String()
}
