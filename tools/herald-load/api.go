package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/heraldhq/herald/tools/harness"
)

// Hard caps of the API run.
const (
	maxClients       = 200
	maxAPIDuration   = 2 * time.Minute
	maxBurst         = 20000
	maxBurstWebhooks = 10
	maxBatch         = 100 // ingest takes batches of up to 100 events
	maxBurstWorkers  = 16
	seedEvents       = 20 // calls for the clients to read
)

// apiConfig is one API run: clients concurrent clients for duration, then a
// burst of events through ingest.
type apiConfig struct {
	Clients       int           `json:"clients"`
	Duration      time.Duration `json:"-"`
	DurationS     float64       `json:"duration_s"`
	Seed          uint64        `json:"seed"` // of the clients' choice of operations
	Burst         int           `json:"burst_events"`
	BurstWebhooks int           `json:"burst_webhooks"`
	BurstBatch    int           `json:"burst_batch"`
	BurstWorkers  int           `json:"burst_workers"`
	Drain         time.Duration `json:"-"`
	DrainS        float64       `json:"drain_limit_s"`
}

func (c *apiConfig) check() error {
	c.DurationS, c.DrainS = c.Duration.Seconds(), c.Drain.Seconds()
	return cmp.Or(within("clients", c.Clients, 1, maxClients), within("duration", c.Duration, time.Second, maxAPIDuration),
		within("burst", c.Burst, 0, maxBurst), within("burst-webhooks", c.BurstWebhooks, 1, maxBurstWebhooks),
		within("burst-batch", c.BurstBatch, 1, maxBatch), within("burst-workers", c.BurstWorkers, 1, maxBurstWorkers),
		within("drain", c.Drain, time.Second, maxDrain))
}

// The operations the clients mix, with their weights.
var operations = []struct {
	name   string
	weight int
}{
	{"create", 15}, {"read", 25}, {"update", 25}, {"list", 10}, {"delete", 10}, {"list_calls", 5}, {"read_call", 10},
}

// APIResult is the JSON result of an API run.
type APIResult struct {
	runInfo
	Config    apiConfig          `json:"config"`
	Requests  int                `json:"requests"`
	PerS      float64            `json:"requests_per_s"`
	Overall   Latency            `json:"latency"`
	ByOp      map[string]opStats `json:"by_operation"`
	Statuses  map[string]int     `json:"statuses"`
	Errors5xx int                `json:"server_errors_5xx"`
	Transport int                `json:"transport_errors"`
	Writes    writeLedger        `json:"writes"`
	Burst     *burstResult       `json:"burst,omitempty"`
	Problems  []string           `json:"problems,omitempty"`
	Verdict   string             `json:"verdict"`
	latencies map[string][]time.Duration
}

type opStats struct {
	Latency
	Statuses map[string]int `json:"statuses"`
}

// writeLedger compares the writes the API acknowledged with the table.
type writeLedger struct {
	CreatesAcked       int `json:"creates_acknowledged"`
	DeletesAcked       int `json:"deletes_acknowledged"`
	UpdatesAcked       int `json:"updates_acknowledged"`
	HotUpdatesAcked    int `json:"shared_webhook_updates_acknowledged"`
	HotConflicts       int `json:"shared_webhook_update_conflicts_409"`
	Ambiguous          int `json:"writes_without_answer"`
	ExpectedWebhooks   int `json:"webhooks_expected"`
	WebhooksInTable    int `json:"webhooks_in_table"`
	NameClaimsInTable  int `json:"name_claims_in_table"`
	LostCreates        int `json:"lost_creates"`
	LostDeletes        int `json:"lost_deletes"`
	UnexpectedWebhooks int `json:"unexpected_webhooks"`
	VersionMismatches  int `json:"version_mismatches"`
}

type burstResult struct {
	Events     int     `json:"events"`
	Accepted   int     `json:"accepted"`
	Failed     int     `json:"failed"`
	Retried    int     `json:"invocations_retried"`
	Seconds    float64 `json:"ingest_seconds"`
	EventsPerS float64 `json:"ingest_events_per_s"`
	BatchAck   Latency `json:"batch_ack_latency"`
	DrainS     float64 `json:"drain_s"`
	// Without the delivery function, every call's job must be in the
	// queue: QueuedJobs is how many the burst added.
	QueuedJobs *int           `json:"queued_jobs,omitempty"`
	Ledger     harness.Ledger `json:"ledger"`
}

// request is one request of a client: its operation, the webhook it wrote
// (after a create, the one it made, if any; hot: the one every client
// updates), and its answer.
type request struct {
	op, id  string
	hot     bool
	status  int // 0: no answer
	elapsed time.Duration
	err     error
}

func runAPI(ctx context.Context, t *target, cfg apiConfig, outDir string, log func(string, ...any)) (*APIResult, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	res := &APIResult{runInfo: newRunInfo(t), Config: cfg,
		ByOp: map[string]opStats{}, Statuses: map[string]int{}, latencies: map[string][]time.Duration{}}
	// Two webhooks: "api00", whose calls the clients read, and "api01",
	// which every client updates.
	p, err := t.seed(ctx, "api", 2)
	if err != nil {
		return nil, err
	}
	defer p.rcv.Close()
	api := newAPIClient(t.apiURL, p.Token, p.Hooks[1], cfg.Clients)
	var batch []harness.Event
	for i := range seedEvents {
		ev, err := p.events.Make(i, "update", "1423", time.Now())
		if err != nil {
			return nil, err
		}
		batch = append(batch, ev)
	}
	results, _, err := (&harness.CMS{Invoke: t.ingest, Tries: ingestTries}).Send(ctx, batch)
	if err != nil {
		return nil, fmt.Errorf("seed calls: %w", err)
	}
	for _, r := range results {
		for _, c := range r.Calls {
			api.calls = append(api.calls, c.CallID)
		}
	}
	log("project %s: %d clients for %v", p.ID, cfg.Clients, cfg.Duration)

	byClient := make([][]request, cfg.Clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range cfg.Clients {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i))) // #nosec G404 -- a seeded, repeatable mix of requests, not a secret
		wg.Go(func() { byClient[i] = api.client(ctx, i, rng, start.Add(cfg.Duration)) })
	}
	wg.Wait()
	elapsed := time.Since(start)

	reqs := slices.Concat(byClient...)
	statuses := map[string]map[string]int{}
	for _, r := range reqs {
		res.latencies[r.op] = append(res.latencies[r.op], r.elapsed)
		key := strconv.Itoa(r.status)
		switch {
		case r.status == 0:
			key = "transport"
			res.Transport++
			if res.Transport <= 10 {
				res.Problems = append(res.Problems, "transport error: "+r.err.Error())
			}
		case r.status >= 500:
			res.Errors5xx++
		}
		if statuses[r.op] == nil {
			statuses[r.op] = map[string]int{}
		}
		statuses[r.op][key]++
		res.Statuses[key]++
	}
	var all []time.Duration
	for op, ds := range res.latencies {
		all = append(all, ds...)
		res.ByOp[op] = opStats{Latency: summarize(ds), Statuses: statuses[op]}
	}
	res.Overall = summarize(all)
	res.Requests = len(all)
	res.PerS = round2(float64(len(all)) / elapsed.Seconds())
	if err := checkWrites(ctx, t, p.ID, p.Hooks, reqs, res); err != nil {
		return nil, err
	}
	w := res.Writes
	log("%d requests (%.0f/s), %d 5xx, p99 %.0f ms; writes: %d creates, %d updates, %d deletes acknowledged",
		res.Requests, res.PerS, res.Errors5xx, res.Overall.P99, w.CreatesAcked, w.UpdatesAcked+w.HotUpdatesAcked, w.DeletesAcked)

	if cfg.Burst > 0 {
		if res.Burst, err = runBurst(ctx, t, cfg, log); err != nil {
			return nil, err
		}
		for _, p := range res.Burst.Ledger.Problems {
			res.Problems = append(res.Problems, "burst: "+p)
		}
		if res.Burst.Failed > 0 {
			res.Problems = append(res.Problems, fmt.Sprintf("burst: %d events were not accepted", res.Burst.Failed))
		}
	}
	if res.Errors5xx > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d answers were 5xx", res.Errors5xx))
	}
	if res.Transport > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d requests got no answer", res.Transport))
	}
	res.Verdict = "OK"
	if len(res.Problems) > 0 {
		res.Verdict = "FAIL"
	}
	return res, writeAPIOutputs(outDir, res)
}

// client runs one client's mix of operations until the deadline and
// returns its requests. They are not cut at the deadline: a write in flight
// finishes, so that its answer counts.
func (api *apiClient) client(ctx context.Context, i int, rng *rand.Rand, deadline time.Time) []request {
	var deck []string // each operation as many times as its weight
	for _, o := range operations {
		deck = append(deck, slices.Repeat([]string{o.name}, o.weight)...)
	}
	var own []string
	var reqs []request
	for n := 1; time.Now().Before(deadline) && ctx.Err() == nil; n++ {
		op := deck[rng.IntN(len(deck))]
		if len(own) == 0 && (op == "read" || op == "delete" || (op == "update" && rng.IntN(4) != 0)) {
			op = "create"
		}
		name := fmt.Sprintf("c%03d-%04d", i, n)
		r := request{op: op}
		method, path, body := http.MethodGet, "", any(nil)
		switch op {
		case "create":
			method, path = http.MethodPost, "/webhooks"
			body = map[string]any{"data": map[string]any{"type": "webhook", "attributes": map[string]any{
				"name": name, "url": "https://example.com/" + name, "custom_payload": nil, "headers": map[string]any{},
				"http_basic_user": nil, "http_basic_password": nil,
				"events": []any{map[string]any{"entity_type": "item", "event_types": []any{"update"}}},
			}}}
		case "read":
			path = "/webhooks/" + own[rng.IntN(len(own))]
		case "update":
			// A quarter of the updates go to the webhook every client
			// updates: concurrent updates of one item must all count.
			r.id, r.hot = api.hot, true
			if len(own) > 0 && rng.IntN(4) != 0 {
				r.id, r.hot = own[rng.IntN(len(own))], false
			}
			method, path = http.MethodPut, "/webhooks/"+r.id
			body = map[string]any{"data": map[string]any{"type": "webhook", "id": r.id,
				"attributes": map[string]any{"headers": map[string]any{"X-Load": name}}}}
		case "list":
			path = "/webhooks"
		case "delete":
			r.id = own[rng.IntN(len(own))]
			method, path = http.MethodDelete, "/webhooks/"+r.id
		case "list_calls":
			path = "/webhook_calls?page[limit]=30"
		case "read_call":
			path = "/webhook_calls/" + api.calls[rng.IntN(len(api.calls))]
		}
		a, err := api.do(ctx, method, path, body)
		r.status, r.elapsed, r.err = a.status, a.elapsed, err
		var created struct{ Data struct{ ID string } } // {"data": {"id": …}}, matched without regard to case
		switch {
		case op == "create" && a.status == http.StatusCreated && json.Unmarshal(a.body, &created) == nil && created.Data.ID != "":
			r.id = created.Data.ID
			own = append(own, r.id)
		case op == "delete" && a.status == http.StatusOK:
			own = slices.DeleteFunc(own, func(id string) bool { return id == r.id })
		}
		reqs = append(reqs, r)
	}
	return reqs
}

// checkWrites tallies the writes the API acknowledged, reads the project's
// webhooks and name claims from the table (strongly consistent) and
// compares: every acknowledged create not deleted is there, no acknowledged
// delete is, nothing else is, and each webhook's version is 1 + its
// acknowledged updates. A write without answer (5xx or none) may or may not
// have happened.
func checkWrites(ctx context.Context, t *target, project string, fixed []string, reqs []request, res *APIResult) error {
	w := &res.Writes
	want := map[string]int64{fixed[0]: 1, fixed[1]: 1}      // id → the version its acknowledged writes make
	deleted, unknown := map[string]bool{}, map[string]int{} // unknown: writes without answer, by id ("": creates)
	for _, r := range reqs {
		switch {
		case r.op == "create" && r.id != "":
			w.CreatesAcked++
			want[r.id] = 1
		case r.op == "delete" && r.status == http.StatusOK:
			w.DeletesAcked++
			deleted[r.id] = true
		case r.op == "update" && r.status == http.StatusOK:
			want[r.id]++
			if r.hot {
				w.HotUpdatesAcked++
			} else {
				w.UpdatesAcked++
			}
		case r.op == "update" && r.hot && r.status == http.StatusConflict:
			w.HotConflicts++
		case (r.op == "create" || r.op == "update" || r.op == "delete") && (r.status == 0 || r.status >= 500):
			unknown[r.id]++
			w.Ambiguous++
		}
	}
	for id := range deleted {
		delete(want, id)
	}
	hooks, err := t.store.ListWebhooks(ctx, project)
	if err != nil {
		return fmt.Errorf("read the webhooks of %s: %w", project, err)
	}
	names, err := t.store.NameClaims(ctx, project)
	if err != nil {
		return fmt.Errorf("count the name claims of %s: %w", project, err)
	}
	versions := map[string]int64{}
	for _, h := range hooks {
		versions[h.ID] = h.Version
	}
	w.WebhooksInTable, w.NameClaimsInTable, w.ExpectedWebhooks = len(versions), names, len(want)
	problem := func(format string, args ...any) {
		if len(res.Problems) < 20 {
			res.Problems = append(res.Problems, fmt.Sprintf(format, args...))
		}
	}
	for id, n := range want {
		v, ok := versions[id]
		if !ok {
			w.LostCreates++
			problem("webhook %s: created (201) but not in the table", id)
			continue
		}
		if v < n || v > n+int64(unknown[id]) {
			w.VersionMismatches++
			problem("webhook %s: version %d; %d acknowledged updates make %d", id, v, n-1, n)
		}
	}
	for id := range deleted {
		if _, ok := versions[id]; ok {
			w.LostDeletes++
			problem("webhook %s: deleted (200) but still in the table", id)
		}
	}
	for id := range versions {
		if _, ok := want[id]; !ok && !deleted[id] {
			w.UnexpectedWebhooks++
			if unknown[""] == 0 {
				problem("webhook %s is in the table but no create was acknowledged for it", id)
			}
		}
	}
	if names != len(versions) {
		problem("%d name claims for %d webhooks", names, len(versions))
	}
	return nil
}

// runBurst sends cfg.Burst events to ingest as fast as cfg.BurstWorkers
// invocations at a time allow, then waits (bounded) for their deliveries
// and balances the ledger.
func runBurst(ctx context.Context, t *target, cfg apiConfig, log func(string, ...any)) (*burstResult, error) {
	p, err := t.seed(ctx, "burst", cfg.BurstWebhooks)
	if err != nil {
		return nil, err
	}
	defer p.rcv.Close()
	evs := make([]harness.Event, cfg.Burst)
	for i := range evs {
		if evs[i], err = p.events.Make(i, "update", "1423", time.Now()); err != nil {
			return nil, err
		}
	}
	log("burst: %d events in batches of %d, %d invocations at a time, × %d webhooks", cfg.Burst, cfg.BurstBatch, cfg.BurstWorkers, cfg.BurstWebhooks)
	depthBefore := 0
	if !t.Delivers {
		if depthBefore, err = t.queueDepth(ctx); err != nil {
			return nil, err
		}
	}
	acked := &acks{want: p.Hooks, start: time.Now(), log: func(format string, args ...any) { log("burst: "+format, args...) }}
	(&harness.CMS{Invoke: t.ingest, Tries: ingestTries}).SendAll(ctx, evs, cfg.BurstBatch, cfg.BurstWorkers, acked.done)
	took := time.Since(acked.start)
	r := &burstResult{Events: cfg.Burst, Accepted: len(acked.sent), Failed: acked.failed, Retried: acked.retried, Seconds: round2(took.Seconds()),
		EventsPerS: round2(float64(len(acked.sent)) / took.Seconds()), BatchAck: summarize(acked.lat)}
	expected := len(acked.sent) * cfg.BurstWebhooks
	log("burst: %d events accepted in %v (%.0f/s), %d calls expected", len(acked.sent), took.Round(time.Millisecond), r.EventsPerS, expected)
	if t.Delivers {
		r.DrainS = drain(ctx, p.rcv, expected, cfg.Drain, log)
	}
	if r.Ledger, _, err = t.settle(ctx, p, acked.sent); err != nil {
		return nil, err
	}
	if !t.Delivers {
		depth, err := t.queueDepth(ctx)
		if err != nil {
			return nil, err
		}
		queued := depth - depthBefore
		r.QueuedJobs = &queued
		if queued != r.Ledger.Pending || queued != expected {
			r.Ledger.Balanced = false
			r.Ledger.Problems = append(r.Ledger.Problems, fmt.Sprintf("the burst queued %d jobs for %d pending calls; want one each (%d)", queued, r.Ledger.Pending, expected))
		}
	}
	return r, nil
}

// writeAPIOutputs writes the result and its plot; each operation's
// latencies are sorted (summarize sorted them).
func writeAPIOutputs(dir string, res *APIResult) error {
	c := chart{
		title: "API latency by operation (CDF)", xLabel: "milliseconds (log scale)", yLabel: "fraction of requests", logX: true,
		notes: []string{fmt.Sprintf("%d clients for %.0f s through the local gateway (moto); %d requests, %.0f/s; %s",
			res.Config.Clients, res.Config.DurationS, res.Requests, res.PerS, res.Machine.short())},
	}
	for _, op := range slices.Sorted(maps.Keys(res.latencies)) {
		c.series = append(c.series, series{name: op + ": " + res.ByOp[op].Latency.String(), points: cdf(res.latencies[op], 300)})
	}
	return writeOutputs(dir, "api-result.json", res, map[string][]byte{"api-latency.svg": c.svg()})
}
