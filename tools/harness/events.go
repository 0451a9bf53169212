package harness

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/ingest"
	"github.com/heraldhq/herald/tools/localstack"
)

// Events makes a run's events from the repository's sample record update
// (events/ingest/item-update.json).
type Events struct {
	Project, Run string
	sample       []byte
}

// Event is one event of a run.
type Event struct {
	ID    string
	Type  string // create, update, publish, delete
	Model string // the record's item type id
	Seq   int
	Sent  time.Time
	Raw   json.RawMessage
}

// marker is what every event carries in entity.meta.herald_load, so that
// the default payload brings its send time to the receiver.
type marker struct {
	Run    string `json:"run"`
	Seq    int    `json:"seq"`
	SentNS int64  `json:"sent_unix_ns"`
}

// NewEvents reads the sample for a run's events of a project.
func NewEvents(project, run string) (*Events, error) {
	root, err := localstack.RepoRoot()
	if err != nil {
		return nil, err
	}
	sample, err := os.ReadFile(filepath.Join(root, "events", "ingest", "item-update.json")) // #nosec G304 -- the repository's own sample event
	if err != nil {
		return nil, fmt.Errorf("read the sample event: %w", err)
	}
	e := &Events{Project: project, Run: run, sample: sample}
	_, err = e.Make(0, "update", "1", time.Now())
	return e, err
}

// Make returns event seq of the run: the sample, as an event of eventType on
// a record of the model, sent at at. Its id is <run>-<seq>-<unix ns>.
func (e *Events) Make(seq int, eventType, model string, at time.Time) (Event, error) {
	ev := Event{ID: fmt.Sprintf("%s-%06d-%d", e.Run, seq, at.UnixNano()), Type: eventType, Model: model, Seq: seq, Sent: at}
	// Decoded afresh each time: no two events share a map.
	var doc map[string]any
	if err := json.Unmarshal(e.sample, &doc); err != nil {
		return ev, fmt.Errorf("decode the sample event: %w", err)
	}
	entity, ok := doc["entity"].(map[string]any)
	if !ok {
		return ev, fmt.Errorf("the sample event has no entity")
	}
	for key, set := range map[string]map[string]any{
		"meta":          {"herald_load": marker{Run: e.Run, Seq: seq, SentNS: at.UnixNano()}},
		"relationships": {"item_type": map[string]any{"data": map[string]any{"id": model, "type": "item_type"}}},
	} {
		m, _ := entity[key].(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		maps.Copy(m, set)
		entity[key] = m
	}
	doc["project_id"], doc["event_id"], doc["event_type"] = e.Project, ev.ID, eventType
	doc["event_triggered_at"] = at.UTC().Format(time.RFC3339Nano)
	raw, err := json.Marshal(doc)
	ev.Raw = raw
	return ev, err
}

// Seed starts a run's project: a token (none if "") and one webhook per
// set of triggers, the i-th posting to <name><i>/ at the receiver, which
// checks its signatures. It returns the webhooks' ids and their paths, by
// id, for Run.Paths.
func Seed(ctx context.Context, store *dynamo.Store, project, token, name string, rcv *Receiver, triggers ...[]herald.Trigger) ([]string, map[string]string, error) {
	hooks := make([]dynamo.SeedWebhook, len(triggers))
	for i, t := range triggers {
		hooks[i] = dynamo.SeedWebhook{Name: fmt.Sprintf("%s%02d", name, i), URL: fmt.Sprintf("%s/%s%02d/", rcv.URL, name, i), Events: t}
	}
	seeded, err := store.Seed(ctx, project, token, "seeded by "+name, hooks...)
	if err != nil {
		return nil, nil, err
	}
	ids, paths := make([]string, len(seeded)), map[string]string{}
	for i, w := range seeded {
		ids[i], paths[w.ID] = w.ID, fmt.Sprintf("/%s%02d/", name, i)
		rcv.Sign(paths[w.ID], w.Secret.Current)
	}
	return ids, paths, nil
}

// CMS invokes the ingest function as a CMS does: a batch of events at a
// time, sent again whole while the invocation fails.
type CMS struct {
	Invoke func(ctx context.Context, payload []byte) ([]byte, error)
	Tries  int           // invocations of one batch at most; 3 if 0
	Pause  time.Duration // waited before the n-th try, n times

	Invocations, Failures atomic.Int64
}

// Send ingests events in one invocation ({"events": [...]}, or the event
// alone), and returns each one's result, in order, and the invocations it
// took.
func (c *CMS) Send(ctx context.Context, evs []Event) ([]ingest.Result, int, error) {
	var payload []byte = evs[0].Raw
	if len(evs) > 1 {
		raws := make([]json.RawMessage, len(evs))
		for i, ev := range evs {
			raws[i] = ev.Raw
		}
		payload, _ = json.Marshal(map[string]any{"events": raws})
	}
	tries := cmp.Or(c.Tries, 3)
	var err error
	for try := 1; try <= tries; try++ {
		c.Invocations.Add(1)
		var answer []byte
		if answer, err = c.Invoke(ctx, payload); err == nil {
			var reply ingest.Reply
			if json.Unmarshal(answer, &reply) != nil || len(reply.Results) != len(evs) {
				return nil, try, fmt.Errorf("ingest answered %.200s", answer)
			}
			return reply.Results, try, nil
		}
		c.Failures.Add(1)
		select {
		case <-ctx.Done():
			return nil, try, ctx.Err()
		case <-time.After(time.Duration(try) * c.Pause):
		}
	}
	return nil, tries, fmt.Errorf("a batch of %d events was not accepted after %d tries: %w", len(evs), tries, err)
}

// SendAll sends events in batches of size, workers invocations at a time,
// and hands each batch's outcome to done, one at a time.
func (c *CMS) SendAll(ctx context.Context, evs []Event, size, workers int, done func(batch []Event, results []ingest.Result, tries int, took time.Duration, err error)) {
	batches := make(chan []Event)
	go func() {
		defer close(batches)
		for i := 0; i < len(evs); i += size {
			select {
			case batches <- evs[i:min(i+size, len(evs))]:
			case <-ctx.Done():
				return
			}
		}
	}()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for b := range batches {
				start := time.Now()
				results, tries, err := c.Send(ctx, b)
				mu.Lock()
				done(b, results, tries, time.Since(start), err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
