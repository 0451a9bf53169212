package metrics

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

// emf is the part of an embedded-metric-format line CloudWatch reads.
type emf struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
}

func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		var e emf
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		if len(e.AWS.CloudWatchMetrics) != 1 || e.AWS.CloudWatchMetrics[0].Namespace != Namespace {
			t.Fatalf("directive: %s", l)
		}
		// Every metric the directive names is in the line with the unit the
		// catalog gives it, and every dimension it names has a value.
		for _, md := range e.AWS.CloudWatchMetrics[0].Metrics {
			if _, ok := m[md.Name]; !ok {
				t.Errorf("%s named but absent: %s", md.Name, l)
			}
			if c, ok := Catalog[md.Name]; !ok || c.Unit != md.Unit {
				t.Errorf("%s: unit %q, catalog %+v", md.Name, md.Unit, c)
			}
		}
		for _, set := range e.AWS.CloudWatchMetrics[0].Dimensions {
			for _, d := range set {
				if _, ok := m[d].(string); !ok {
					t.Errorf("dimension %s has no value: %s", d, l)
				}
			}
		}
		out = append(out, m)
	}
	return out
}

func TestFlushWritesOneLinePerOutcomeAndOneForTheRest(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, "DeliveryFunction")
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outcome := OutcomeSuccess
			if i%5 == 0 {
				outcome = OutcomeRescheduled
			}
			r.Count(Deliveries, outcome, 1)
			r.Observe(AttemptDuration, float64(i))
		}()
	}
	wg.Wait()
	now := time.UnixMilli(1700000000123)
	if err := r.Flush(now); err != nil {
		t.Fatal(err)
	}
	got := lines(t, &buf)
	if len(got) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(got), buf.String())
	}
	// Sorted: rescheduled, success, then the plain line.
	if got[0]["Outcome"] != OutcomeRescheduled || got[0][Deliveries] != 2.0 {
		t.Errorf("first line: %v", got[0])
	}
	if got[1]["Outcome"] != OutcomeSuccess || got[1][Deliveries] != 8.0 {
		t.Errorf("second line: %v", got[1])
	}
	if vs, _ := got[2][AttemptDuration].([]any); len(vs) != 10 || got[2]["Function"] != "DeliveryFunction" {
		t.Errorf("third line: %v", got[2])
	}
	if ts := got[0]["_aws"].(map[string]any)["Timestamp"]; ts != 1700000000123.0 {
		t.Errorf("timestamp %v", ts)
	}

	// Flush forgets: a second one writes nothing.
	buf.Reset()
	if err := r.Flush(now); err != nil || buf.Len() != 0 {
		t.Errorf("second flush wrote %q, %v", buf.String(), err)
	}
}

func TestFlushIsDeterministic(t *testing.T) {
	write := func() string {
		var buf bytes.Buffer
		r := New(&buf, "IngestFunction")
		r.Count(IngestEvents, "", 3)
		r.Count(IngestMatches, "", 7)
		r.Observe(SweepLag, 1)
		if err := r.Flush(time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	first := write()
	for range 20 {
		if w := write(); w != first {
			t.Fatalf("flush output varies:\n%s\n%s", first, w)
		}
	}
}

// TestSplitsValuesAtEMFsLimit: EMF takes at most 100 values of a metric in
// a line; more go in further lines, none lost, the other metrics once.
func TestSplitsValuesAtEMFsLimit(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, "DeliveryFunction")
	n := 2*maxValues + 5
	for i := range n {
		r.Observe(EndToEndDelay, float64(i))
	}
	r.Observe(AttemptDuration, 7)
	if err := r.Flush(time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	var got []float64
	durations := 0
	for _, l := range lines(t, &buf) {
		vs, _ := l[EndToEndDelay].([]any)
		if len(vs) > maxValues {
			t.Errorf("a line holds %d values of %s, more than EMF's %d", len(vs), EndToEndDelay, maxValues)
		}
		for _, v := range vs {
			got = append(got, v.(float64))
		}
		if _, ok := l[AttemptDuration]; ok {
			durations++
		}
	}
	if len(got) != n {
		t.Fatalf("%d values written, want %d", len(got), n)
	}
	for i, v := range got {
		if v != float64(i) {
			t.Fatalf("value %d is %v, want %d", i, v, i)
		}
	}
	if durations != 1 {
		t.Errorf("%s in %d lines, want 1", AttemptDuration, durations)
	}
}

func TestCustomMetrics(t *testing.T) {
	// Deliveries twice (by function, and by function and each of four
	// outcomes) and six more metrics by function: 1 + 4 + 6.
	if got, want := CustomMetrics(), 11; got != want {
		t.Errorf("got %d, want %d", got, want)
	}
}

// TestParseReadsWhatFlushWrites: the lines read back give every value
// recorded, and other lines are not taken for metrics.
func TestParseReadsWhatFlushWrites(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, "DeliveryFunction")
	r.Count(Deliveries, OutcomeSuccess, 3)
	r.Count(Deliveries, OutcomeFailed, 1)
	r.Observe(AttemptDuration, 12)
	r.Observe(AttemptDuration, 40)
	if err := r.Flush(time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		l, ok := Parse("[DeliveryFunction#0] " + line)
		if !ok {
			t.Fatalf("not read back: %s", line)
		}
		got = append(got, l.String())
	}
	want := []string{"DeliveryFunction Deliveries{failed}=1", "DeliveryFunction Deliveries{success}=3", "DeliveryFunction AttemptDuration=[12 40]"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("read back:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, other := range []string{`{"time":"x","level":"INFO","msg":"attempt"}`, `START RequestId: 1`,
		`{"Deliveries":1,"_aws":{"CloudWatchMetrics":[{"Namespace":"Other","Metrics":[{"Name":"Deliveries"}]}]}}`,
		`{"_aws":{"CloudWatchMetrics":[{"Namespace":"Herald","Metrics":[{"Name":"Deliveries"}]}]}}`} {
		if l, ok := Parse(other); ok {
			t.Errorf("%s read as metrics: %+v", other, l)
		}
	}
}
