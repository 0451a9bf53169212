package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/tools/localstack"
)

// target is the stack a run drives: one it started itself (the default) or
// the one `make dev` runs.
type target struct {
	apiURL string
	// Where a stack started here runs, as `make dev` writes it to dev.env.
	devEnv map[string]string
	ingest func(ctx context.Context, payload []byte) ([]byte, error)
	db     *dynamodb.Client
	table  string
	// queueDepth counts the jobs in the delivery queue; nil where unknown
	// (the make dev stack).
	queueDepth func(ctx context.Context) (int, error)
	// functionsCPU is the CPU the functions' processes have used so far;
	// nil where they are not this process's children (the make dev stack).
	functionsCPU func() (bootstraps, emulators time.Duration)
	// Describes the stack for the result file.
	Kind      string         `json:"kind"`
	PoolSizes map[string]int `json:"pool_sizes,omitempty"`
	// Delivers is false for a stack started without the delivery function:
	// jobs stay in the queue, where they can be counted.
	Delivers bool `json:"delivers"`
	stop     func()
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
	table, err := stack.TableName()
	if err != nil {
		stack.Stop()
		return nil, err
	}
	sizes := map[string]int{}
	for fn := range stack.Functions {
		sizes[fn] = stack.Pool(fn).Size()
	}
	queueURL := stack.Resources.Queues["FirstAttemptQueue"].URL // where ingest queues first attempts
	sqsClient := stack.SQS()
	depth := func(ctx context.Context) (int, error) {
		c, err := localstack.CountMessages(ctx, sqsClient, queueURL)
		return c.Total(), err
	}
	return &target{
		apiURL: stack.APIURL, ingest: stack.Pool(localstack.IngestFunction).Invoke,
		db: stack.DynamoDB(), table: table, Kind: "started by herald-load", PoolSizes: sizes,
		Delivers: !o.noDelivery, queueDepth: depth, functionsCPU: stack.FunctionsCPU,
		stop:   stack.Stop,
		devEnv: map[string]string{"HERALD_API_URL": stack.APIURL, "HERALD_INGEST_URL": stack.IngestURL, "HERALD_MOTO_URL": stack.MotoURL},
	}, nil
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
	ingestURL := env["HERALD_INGEST_URL"]
	invoke := func(ctx context.Context, payload []byte) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, ingestURL, bytes.NewReader(payload))
		if err != nil {
			return nil, fmt.Errorf("invoke ingest: %w", err)
		}
		res, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("invoke ingest: %w", err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			return nil, fmt.Errorf("invoke ingest: read the answer: %w", err)
		}
		if res.StatusCode != http.StatusOK {
			return body, fmt.Errorf("invoke ingest: the emulator answered %d", res.StatusCode)
		}
		return body, nil
	}
	return &target{apiURL: env["HERALD_API_URL"], ingest: invoke, db: db, table: table, Delivers: true,
		Kind: "make dev (ingest serialised on one instance)", stop: func() {}}, nil
}

// seedLoadProject seeds a project of its own (newProject) with n webhooks
// that match every event, the i-th posting to rcv's /path/i, through the API
// with conns connections, and returns the project and its events.
func (t *target) seedLoadProject(ctx context.Context, run, path string, n, conns int, rcv *receiver) (string, *eventFactory, error) {
	project, token, err := t.newProject(ctx, run)
	if err != nil {
		return "", nil, err
	}
	api := newAPIClient(t.apiURL, token, conns)
	for i := range n {
		if _, _, err := api.createWebhook(ctx, webhookAttributes(fmt.Sprintf("%s-%02d", run, i), fmt.Sprintf("%s/%s/%02d", rcv.URL, path, i))); err != nil {
			return "", nil, err
		}
	}
	events, err := newEventFactory(project, run)
	if err != nil {
		return "", nil, err
	}
	return project, events, nil
}

// newProject seeds a project of its own for a run, so that nothing else in
// the table (make dev's demo webhook, an earlier run) matches its events or
// counts in its ledger, and returns the project id and an API token.
func (t *target) newProject(ctx context.Context, prefix string) (string, string, error) {
	project := fmt.Sprintf("%s-%s", prefix, strings.ToLower(herald.NewID(time.Now())))
	token := herald.NewToken()
	if err := localstack.SeedToken(ctx, t.db, t.table, project, token, "herald-load"); err != nil {
		return "", "", err
	}
	return project, token, nil
}
