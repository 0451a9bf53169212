package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/heraldhq/herald/shared/ingest"
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
	switch {
	case c.Clients < 1 || c.Clients > maxClients:
		return fmt.Errorf("-clients %d: want 1 to %d", c.Clients, maxClients)
	case c.Duration < time.Second || c.Duration > maxAPIDuration:
		return fmt.Errorf("-duration %v: want 1s to %v", c.Duration, maxAPIDuration)
	case c.Burst < 0 || c.Burst > maxBurst:
		return fmt.Errorf("-burst %d: want 0 to %d", c.Burst, maxBurst)
	case c.BurstWebhooks < 1 || c.BurstWebhooks > maxBurstWebhooks:
		return fmt.Errorf("-burst-webhooks %d: want 1 to %d", c.BurstWebhooks, maxBurstWebhooks)
	case c.BurstBatch < 1 || c.BurstBatch > maxBatch:
		return fmt.Errorf("-burst-batch %d: want 1 to %d", c.BurstBatch, maxBatch)
	case c.BurstWorkers < 1 || c.BurstWorkers > maxBurstWorkers:
		return fmt.Errorf("-burst-workers %d: want 1 to %d", c.BurstWorkers, maxBurstWorkers)
	case c.Drain < time.Second || c.Drain > maxDrain:
		return fmt.Errorf("-drain %v: want 1s to %v", c.Drain, maxDrain)
	}
	c.DurationS, c.DrainS = c.Duration.Seconds(), c.Drain.Seconds()
	return nil
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

// apiLog is what the clients saw, under one lock.
type apiLog struct {
	mu       sync.Mutex
	lat      map[string][]time.Duration
	statuses map[string]map[string]int
	created  map[string]bool
	deleted  map[string]bool
	updates  map[string]int // acknowledged updates by webhook id
	hotOK    int
	hot409   int
	unknown  map[string]int // writes without an answer, by webhook id ("" for creates)
	errs     []string
}

// note records one request of op, then what record notes of its write.
func (l *apiLog) note(op string, a answer, err error, record func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lat[op] = append(l.lat[op], a.elapsed)
	key := fmt.Sprint(a.status)
	if err != nil && a.status == 0 {
		key = "transport"
		if len(l.errs) < 10 {
			l.errs = append(l.errs, err.Error())
		}
	}
	if l.statuses[op] == nil {
		l.statuses[op] = map[string]int{}
	}
	l.statuses[op][key]++
	if record != nil {
		record()
	}
}

// unanswered is an answer that leaves a write's outcome unknown.
func unanswered(a answer) bool { return a.status == 0 || a.status >= 500 }

// apiFixture is what the clients share: the project, a webhook every client
// updates, and calls to read.
type apiFixture struct {
	api   *apiClient
	hot   string
	calls []string
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
	fx := &apiFixture{api: newAPIClient(t.apiURL, p.Token, cfg.Clients), hot: p.Hooks[1]}
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
			fx.calls = append(fx.calls, c.CallID)
		}
	}
	sort.Strings(fx.calls)
	log("project %s: %d clients for %v", p.ID, cfg.Clients, cfg.Duration)

	l := &apiLog{lat: map[string][]time.Duration{}, statuses: map[string]map[string]int{}, created: map[string]bool{},
		deleted: map[string]bool{}, updates: map[string]int{}, unknown: map[string]int{}}
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	for i := range cfg.Clients {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i))) // #nosec G404 -- a seeded, repeatable mix of requests, not a secret
		wg.Go(func() { fx.client(ctx, i, rng, deadline, l) })
	}
	wg.Wait()
	elapsed := time.Since(start)

	var all []time.Duration
	for op, ds := range l.lat {
		all = append(all, ds...)
		res.ByOp[op], res.latencies[op] = opStats{Latency: summarize(ds), Statuses: l.statuses[op]}, ds
		for k, n := range l.statuses[op] {
			res.Statuses[k] += n
			switch {
			case k == "transport":
				res.Transport += n
			case k >= "500" && k < "600":
				res.Errors5xx += n
			}
		}
	}
	res.Overall = summarize(all)
	res.Requests = len(all)
	res.PerS = round2(float64(len(all)) / elapsed.Seconds())
	for _, e := range l.errs {
		res.Problems = append(res.Problems, "transport error: "+e)
	}
	w := &res.Writes
	w.CreatesAcked, w.DeletesAcked, w.HotUpdatesAcked, w.HotConflicts = len(l.created), len(l.deleted), l.hotOK, l.hot409
	for _, n := range l.updates {
		w.UpdatesAcked += n
	}
	for _, n := range l.unknown {
		w.Ambiguous += n
	}
	l.updates[fx.hot] += l.hotOK
	if err := checkWrites(ctx, t, p.ID, map[string]bool{p.Hooks[0]: true, fx.hot: true}, l.created, l.deleted, l.updates, l.unknown, res); err != nil {
		return nil, err
	}
	log("%d requests (%.0f/s), %d 5xx, p99 %.0f ms; writes: %d creates, %d updates, %d deletes acknowledged",
		res.Requests, res.PerS, res.Errors5xx, res.Overall.P99, res.Writes.CreatesAcked, res.Writes.UpdatesAcked+res.Writes.HotUpdatesAcked, res.Writes.DeletesAcked)

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

// client runs one client's mix of operations until the deadline. Its
// requests are not cut at the deadline: a write in flight finishes, so that
// its answer counts.
func (fx *apiFixture) client(ctx context.Context, i int, rng *rand.Rand, deadline time.Time, l *apiLog) {
	total := 0
	for _, o := range operations {
		total += o.weight
	}
	var own []string
	n := 0
	for time.Now().Before(deadline) && ctx.Err() == nil {
		pick, op := rng.IntN(total), ""
		for _, o := range operations {
			if pick < o.weight {
				op = o.name
				break
			}
			pick -= o.weight
		}
		if len(own) == 0 && (op == "read" || op == "delete" || (op == "update" && rng.IntN(4) != 0)) {
			op = "create"
		}
		n++
		switch op {
		case "create":
			name := fmt.Sprintf("c%03d-%04d", i, n)
			id, a, err := fx.api.createWebhook(ctx, webhookAttributes(name, "https://example.com/"+name))
			if id != "" {
				own = append(own, id)
			}
			l.note(op, a, err, func() {
				if id != "" {
					l.created[id] = true
				} else if unanswered(a) {
					l.unknown[""]++
				}
			})
		case "read":
			a, err := fx.api.do(ctx, http.MethodGet, "/webhooks/"+own[rng.IntN(len(own))], nil)
			l.note(op, a, err, nil)
		case "update":
			// A quarter of the updates go to the webhook every client
			// updates: concurrent updates of one item must all count.
			id, hot := fx.hot, true
			if len(own) > 0 && rng.IntN(4) != 0 {
				id, hot = own[rng.IntN(len(own))], false
			}
			body := map[string]any{"data": map[string]any{"type": "webhook", "id": id,
				"attributes": map[string]any{"headers": map[string]any{"X-Load": fmt.Sprintf("c%03d-%04d", i, n)}}}}
			a, err := fx.api.do(ctx, http.MethodPut, "/webhooks/"+id, body)
			l.note(op, a, err, func() {
				switch {
				case a.status == http.StatusOK && hot:
					l.hotOK++
				case a.status == http.StatusOK:
					l.updates[id]++
				case a.status == http.StatusConflict && hot:
					l.hot409++
				case unanswered(a):
					l.unknown[id]++
				}
			})
		case "list":
			a, err := fx.api.do(ctx, http.MethodGet, "/webhooks", nil)
			l.note(op, a, err, nil)
		case "delete":
			k := rng.IntN(len(own))
			id := own[k]
			a, err := fx.api.do(ctx, http.MethodDelete, "/webhooks/"+id, nil)
			if a.status == http.StatusOK {
				own = slices.Delete(own, k, k+1)
			}
			l.note(op, a, err, func() {
				if a.status == http.StatusOK {
					l.deleted[id] = true
				} else if unanswered(a) {
					l.unknown[id]++
				}
			})
		case "list_calls":
			a, err := fx.api.do(ctx, http.MethodGet, "/webhook_calls?page[limit]=30", nil)
			l.note(op, a, err, nil)
		case "read_call":
			a, err := fx.api.do(ctx, http.MethodGet, "/webhook_calls/"+fx.calls[rng.IntN(len(fx.calls))], nil)
			l.note(op, a, err, nil)
		}
	}
}

// checkWrites reads the project's webhooks and name claims from the table
// and compares them with the acknowledged writes: every acknowledged create
// not deleted is there, no acknowledged delete is, nothing else is, and each
// webhook's version is 1 + its acknowledged updates.
func checkWrites(ctx context.Context, t *target, project string, fixed, created, deleted map[string]bool, updates, unknown map[string]int, res *APIResult) error {
	versions, names, err := t.webhookVersions(ctx, project)
	if err != nil {
		return err
	}
	w := &res.Writes
	w.WebhooksInTable, w.NameClaimsInTable = len(versions), names
	problem := func(format string, args ...any) {
		if len(res.Problems) < 20 {
			res.Problems = append(res.Problems, fmt.Sprintf(format, args...))
		}
	}
	expect := map[string]bool{}
	for id := range fixed {
		expect[id] = true
	}
	for id := range created {
		if !deleted[id] {
			expect[id] = true
		}
	}
	w.ExpectedWebhooks = len(expect)
	for id := range expect {
		v, ok := versions[id]
		if !ok {
			w.LostCreates++
			problem("webhook %s: created (201) but not in the table", id)
			continue
		}
		if want := 1 + int64(updates[id]); v < want || v > want+int64(unknown[id]) {
			w.VersionMismatches++
			problem("webhook %s: version %d; %d acknowledged updates make %d", id, v, updates[id], want)
		}
	}
	for id := range deleted {
		if _, ok := versions[id]; ok {
			w.LostDeletes++
			problem("webhook %s: deleted (200) but still in the table", id)
		}
	}
	for id := range versions {
		if !expect[id] && !deleted[id] {
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

// webhookVersions reads a project's webhooks (id → version) and counts its
// name claims, strongly consistent.
func (t *target) webhookVersions(ctx context.Context, project string) (map[string]int64, int, error) {
	hooks, err := t.store.ListWebhooks(ctx, project)
	if err != nil {
		return nil, 0, err
	}
	versions := map[string]int64{}
	for _, w := range hooks {
		versions[w.ID] = w.Version
	}
	names, err := t.store.NameClaims(ctx, project)
	return versions, names, err
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
	r := &burstResult{Events: cfg.Burst}
	var sent []harness.Sent
	var lat []time.Duration
	start := time.Now()
	cms := &harness.CMS{Invoke: t.ingest, Tries: ingestTries}
	cms.SendAll(ctx, evs, cfg.BurstBatch, cfg.BurstWorkers, func(batch []harness.Event, results []ingest.Result, tries int, took time.Duration, err error) {
		r.Retried += max(0, tries-1)
		if err != nil {
			r.Failed += len(batch)
			log("burst batch from %d: %v", batch[0].Seq, err)
			return
		}
		lat = append(lat, took)
		for i, res := range results {
			sent = append(sent, harness.Sent{Event: batch[i], Result: res, Want: p.Hooks})
		}
		if len(sent)/1000 > (len(sent)-len(batch))/1000 {
			log("burst: %d events accepted after %v", len(sent), time.Since(start).Round(time.Second))
		}
	})
	took := time.Since(start)
	r.Accepted, r.Seconds = len(sent), round2(took.Seconds())
	r.EventsPerS = round2(float64(len(sent)) / took.Seconds())
	r.BatchAck = summarize(lat)
	expected := len(sent) * cfg.BurstWebhooks
	log("burst: %d events accepted in %v (%.0f/s), %d calls expected", len(sent), took.Round(time.Millisecond), r.EventsPerS, expected)
	if t.Delivers {
		r.DrainS = drain(ctx, p.rcv, expected, cfg.Drain, log)
	}
	if r.Ledger, _, err = t.settle(ctx, p, sent); err != nil {
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
	ops := slices.Sorted(maps.Keys(res.latencies))
	for _, op := range ops {
		c.series = append(c.series, series{name: op + ": " + pcts(res.ByOp[op].Latency), points: cdf(res.latencies[op], 300)})
	}
	return writeOutputs(dir, "api-result.json", res, map[string][]byte{"api-latency.svg": c.svg()})
}
