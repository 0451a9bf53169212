package ingest

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heraldhq/herald/shared/herald"
)

// FuzzSplitBatch: an invocation payload is refused as a whole with a client
// error, or split into at most MaxBatchEvents events, each non-empty, the
// same events encoding/json finds wherever it reads the batch;
// and whatever an event holds, the event id a rejection reports is within
// its limit. Seeds live in testdata/fuzz/FuzzSplitBatch/; herald's
// FuzzParseEvent covers each event.
func FuzzSplitBatch(f *testing.F) {
	f.Add([]byte(`{"events":[{"event_id":"a"},{"event_id":"b"}]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		raws, err := splitBatch(payload)
		if err != nil {
			if code := herald.ErrorCode(err); code != herald.EBADJSON && code != herald.ETOOLARGE {
				t.Fatalf("splitBatch error %v, want bad JSON or too large", err)
			}
			return
		}
		if len(raws) == 0 {
			// Only an empty batch holds no event.
			var v struct {
				Events *[]json.RawMessage `json:"events"`
			}
			if json.Unmarshal(payload, &v) != nil || v.Events == nil || len(*v.Events) != 0 {
				t.Fatalf("no events from %q", payload)
			}
		}
		// Where encoding/json reads the batch, the split by hand agrees.
		var batch struct {
			Events *[]json.RawMessage `json:"events"`
		}
		trimmed := bytes.TrimSpace(payload)
		if json.Unmarshal(trimmed, &batch) == nil && batch.Events != nil &&
			bytes.Count(bytes.ToLower(trimmed), []byte(`"events"`)) == 1 && bytes.Count(trimmed, []byte(`"events"`)) == 1 {
			byHand, ok := batchEvents(trimmed)
			if !ok || len(byHand) != len(*batch.Events) {
				t.Fatalf("split by hand: %d events (ok %v), encoding/json: %d", len(byHand), ok, len(*batch.Events))
			}
			for i := range byHand {
				if !bytes.Equal(byHand[i], (*batch.Events)[i]) {
					t.Fatalf("event %d split by hand %q, encoding/json %q", i, byHand[i], (*batch.Events)[i])
				}
			}
		}
		if len(raws) > herald.MaxBatchEvents {
			t.Fatalf("%d events in a batch, the limit is %d", len(raws), herald.MaxBatchEvents)
		}
		for _, raw := range raws {
			if len(raw) == 0 {
				t.Fatalf("an empty event from %q", payload)
			}
			id := eventIDOf(raw)
			if len(id) > herald.MaxEventIDBytes {
				t.Fatalf("event id of %d bytes reported", len(id))
			}
			if id != "" && !utf8.ValidString(id) {
				t.Fatalf("event id %q is not UTF-8", id)
			}
		}
	})
}

// BenchmarkSplitBatch: a batch of 100 events as encoding/json reads it, and
// the same batch with one event nested 20,000 deep, which it cannot read
// and is split without a nesting limit.
func BenchmarkSplitBatch(b *testing.B) {
	event := `{"project_id":"p1","event_id":"e","entity":{"id":"1","type":"item","attributes":{"title":"` + strings.Repeat("x", 2000) + `"}}}`
	events := make([]string, 100)
	for i := range events {
		events[i] = event
	}
	deep := slices.Clone(events)
	deep[50] = `{"entity":` + strings.Repeat(`{"a":`, 20000) + `1` + strings.Repeat(`}`, 20000) + `}`
	for name, evs := range map[string][]string{"plain": events, "deep": deep} {
		payload := []byte(`{"events":[` + strings.Join(evs, ",") + `]}`)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if raws, err := splitBatch(payload); err != nil || len(raws) != 100 {
					b.Fatalf("%d events, %v", len(raws), err)
				}
			}
		})
	}
}
