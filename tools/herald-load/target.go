package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/tools/harness"
	"github.com/heraldhq/herald/tools/localstack"
)

// target is the stack a run drives: one it started itself (the default) or
// the one `make dev` runs.
type target struct {
	apiURL string
	// Where a stack started here runs, as `make dev` writes it to dev.env.
	devEnv map[string]string
	ingest func(ctx context.Context, payload []byte) ([]byte, error)
	store  *dynamo.Store
	// stack is the stack started here; nil for the make dev stack, whose
	// queue and functions' processes this one cannot see.
	stack *localstack.Stack
	// Describes the stack for the result file.
	Kind      string         `json:"kind"`
	PoolSizes map[string]int `json:"pool_sizes,omitempty"`
	// Delivers is false for a stack started without the delivery function:
	// jobs stay in the queue, where they can be counted.
	Delivers bool `json:"delivers"`
}

// stackOptions say which stack to drive.
type stackOptions struct {
	dev        bool           // the running `make dev` stack, found by .herald/dev.env
	poolSizes  map[string]int // instances per function of a stack started here
	hostBuild  string         // where the bootstraps are; localstack's default if ""
	noDelivery bool           // start the stack without the delivery function
	logs       io.Writer      // the functions' log lines; discarded if nil
}

func startTarget(ctx context.Context, o stackOptions) (*target, error) {
	if o.dev {
		root, err := localstack.RepoRoot()
		if err != nil {
			return nil, err
		}
		return devTarget(localstack.DevEnvPath(root))
	}
	// Info, as deployed (events/env.json asks for debug, which would make
	// the functions spend their time logging).
	params := map[string]string{"ALLOW_PRIVATE_TARGETS": "true", "LOG_LEVEL": "info"}
	var functions []string // all of the template's
	if o.noDelivery {
		functions = []string{localstack.APIFunction, localstack.IngestFunction}
	}
	stack, err := localstack.Start(ctx, localstack.Options{
		Functions: functions,
		HostBuild: o.hostBuild,
		PoolSizes: o.poolSizes,
		Overrides: map[string]map[string]string{"Parameters": params},
		Logs:      o.logs,
		MotoLogs:  io.Discard,
		// Retries are not expected (the receiver answers 200), but a sweep
		// keeps the stack as deployed.
		SweepInterval: 10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("start the local stack: %w", err)
	}
	store, err := stack.Store()
	if err != nil {
		stack.Stop()
		return nil, err
	}
	sizes := map[string]int{}
	for fn := range stack.Functions {
		sizes[fn] = stack.Pool(fn).Size()
	}
	return &target{
		apiURL: stack.APIURL, ingest: stack.Pool(localstack.IngestFunction).Invoke, store: store, stack: stack,
		Kind: "started by herald-load", PoolSizes: sizes, Delivers: !o.noDelivery,
		devEnv: map[string]string{"HERALD_API_URL": stack.APIURL, "HERALD_INGEST_URL": stack.IngestURL, "HERALD_MOTO_URL": stack.MotoURL},
	}, nil
}

func (t *target) stop() {
	if t.stack != nil {
		t.stack.Stop()
	}
}

// queueDepth counts the jobs in the queue of first attempts, where ingest
// puts them, on a stack started here.
func (t *target) queueDepth(ctx context.Context) (int, error) {
	c, err := localstack.CountMessages(ctx, t.stack.SQS(), t.stack.Resources.Queues["FirstAttemptQueue"].URL)
	return c.Total(), err
}

// devTarget drives the stack of `make dev`, as its dev.env at path names
// it. Its ingest URL is one emulator instance, which takes one invocation at
// a time (a second concurrent one kills it), so invocations are serialised
// here.
func devTarget(path string) (*target, error) {
	env, err := localstack.ReadDevEnv(path)
	if err != nil {
		return nil, fmt.Errorf("%w (is `make dev` running?)", err)
	}
	for _, k := range []string{"HERALD_API_URL", "HERALD_INGEST_URL", "HERALD_MOTO_URL"} {
		if env[k] == "" {
			return nil, fmt.Errorf("%s sets no %s", path, k)
		}
	}
	db, table, err := localstack.LocalTable(localstack.Options{MotoURL: env["HERALD_MOTO_URL"]})
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	client := &http.Client{Timeout: 60 * time.Second}
	invoke := func(ctx context.Context, payload []byte) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		a, err := roundTrip(ctx, client, http.MethodPost, env["HERALD_INGEST_URL"], payload, nil)
		if err == nil && a.status != http.StatusOK {
			err = fmt.Errorf("the emulator answered %d", a.status)
		}
		if err != nil {
			return a.body, fmt.Errorf("invoke ingest: %w", err)
		}
		return a.body, nil
	}
	return &target{apiURL: env["HERALD_API_URL"], ingest: invoke, store: dynamo.New(dynamo.Deps{DB: db, Table: table}), Delivers: true,
		Kind: "make dev (ingest serialised on one instance)"}, nil
}

// project is a run's own project: nothing else in the table (make dev's
// demo webhook, an earlier run) matches its events or counts in its ledger.
type project struct {
	ID     string
	Token  string            // an API token of the project
	Hooks  []string          // the webhooks' ids
	Paths  map[string]string // each webhook's path at the receiver
	rcv    *harness.Receiver // where the webhooks post
	events *harness.Events   // the run's events, named after it
}

// seed starts a project for a run named name: a receiver, an API token, and
// n webhooks that match every record update, posting to the receiver at
// <name><i>/. The caller closes p.rcv.
func (t *target) seed(ctx context.Context, name string, n int) (*project, error) {
	rcv, err := harness.StartReceiver(harness.ReceiverOptions{})
	if err != nil {
		return nil, err
	}
	p := &project{ID: fmt.Sprintf("%s-%s", name, strings.ToLower(herald.NewID(time.Now()))), Token: herald.NewToken(), rcv: rcv}
	triggers := slices.Repeat([][]herald.Trigger{{{EntityType: "item", EventTypes: []string{"update"}}}}, n)
	if p.Hooks, p.Paths, err = harness.Seed(ctx, t.store, p.ID, p.Token, name, rcv, triggers...); err == nil {
		p.events, err = harness.NewEvents(p.ID, name)
	}
	if err != nil {
		_ = rcv.Close()
		return nil, err
	}
	return p, nil
}
