package localstack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
)

// The template's functions, by logical id. The stack names the invocation
// URLs of ingest and delivery; tools and tests invoke them directly, as the
// CMS and Lambda do. The API is reached through the gateway.
const (
	APIFunction      = "ApiFunction"
	IngestFunction   = "IngestFunction"
	DeliveryFunction = "DeliveryFunction"
)

// DefaultStackName prefixes the local names of resources that the env file
// does not name.
const DefaultStackName = "herald-local"

// Options configure a local stack. Zero values give a stack on free ports
// with the repository's template.yaml and events/env.json.
type Options struct {
	Root      string // holds template.yaml and events/env.json; found from the working directory if ""
	HostBuild string // where <LogicalId>/bootstrap are; HostBuildDir() if ""
	StackName string // DefaultStackName if ""

	MotoURL       string         // use this running moto instead of starting one
	MotoPort      int            // port for a moto the stack starts; 0 picks one
	GatewayPort   int            // 0 picks one
	FunctionPorts map[string]int // first port of each function's instances; 0 picks
	PoolSizes     map[string]int // instances per function; 2 if unset

	// Functions lists the functions to run; all of the template's if nil.
	Functions []string
	// Overrides set environment variables on top of everything else, by
	// function logical id, or for all functions under "Parameters".
	Overrides map[string]map[string]string
	// ExtraEnv is added to every function's environment, last.
	ExtraEnv map[string]string
	// QueueAttributes set SQS attributes on top of the template's, by the
	// queue's logical id (tests shorten VisibilityTimeout).
	QueueAttributes map[string]map[string]string
	// SweepInterval runs each Schedule/ScheduleV2 event this often; 0 runs
	// none.
	SweepInterval time.Duration
	// GatewayTimeout is the gateway's integration timeout;
	// IntegrationTimeout if 0.
	GatewayTimeout time.Duration

	Logs     io.Writer    // what the functions print; discarded if nil
	MotoLogs io.Writer    // what moto prints; Logs if nil
	Logger   *slog.Logger // the stack's own log; discarded if nil
}

// Stack is a running local stack.
type Stack struct {
	APIURL      string // the gateway
	IngestURL   string // the first ingest instance's invocation URL
	DeliveryURL string // the first delivery instance's invocation URL
	MotoURL     string
	// Functions holds each running function's spec, with Env the complete
	// environment it runs with.
	Functions map[string]FunctionSpec
	Resources Resources

	pools   map[string]*Pool
	moto    *Moto
	gateway *http.Server
	clients clients
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	stopPolls context.CancelFunc // ends the pollers' receives
	polls     sync.WaitGroup     // the pollers
	log       *slog.Logger
}

// plan is what a stack, or a one-off invoke, reads before it starts.
type plan struct {
	opts   Options
	tmpl   *Template
	env    EnvFile
	region string
	keyID  string
	secret string
	names  map[string]string
}

func prepare(opts Options) (*plan, error) {
	if opts.Root == "" {
		root, err := RepoRoot()
		if err != nil {
			return nil, err
		}
		opts.Root = root
	}
	if opts.HostBuild == "" {
		dir, err := HostBuildDir()
		if err != nil {
			return nil, err
		}
		opts.HostBuild = dir
	}
	opts.StackName = cmp.Or(opts.StackName, DefaultStackName)
	opts.Logs = cmp.Or[io.Writer](opts.Logs, io.Discard)
	opts.MotoLogs = cmp.Or(opts.MotoLogs, opts.Logs)
	opts.Logger = cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))
	tmpl, err := LoadTemplate(filepath.Join(opts.Root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	env, err := LoadEnvFile(filepath.Join(opts.Root, "events", "env.json"))
	if err != nil {
		return nil, err
	}
	names, err := localNames(tmpl, env, opts.StackName)
	if err != nil {
		return nil, err
	}
	shared := env.For(allFunctions)
	p := &plan{opts: opts, tmpl: tmpl, env: env, names: names,
		region: cmp.Or(shared["AWS_REGION"], "us-east-1"),
		keyID:  cmp.Or(shared["AWS_ACCESS_KEY_ID"], "local"),
		secret: cmp.Or(shared["AWS_SECRET_ACCESS_KEY"], "local"),
	}
	if opts.Functions == nil {
		p.opts.Functions = tmpl.LogicalIDs(typeFunction)
	}
	return p, nil
}

// functionSpec resolves a function and builds its complete environment:
// moto's settings, then the template's variables, then the env file's, then
// what must point at this stack (the endpoints, and the variables that are a
// !Ref of a table or queue), then the caller's overrides.
func (p *plan) functionSpec(r *resolver, id, motoURL string) (FunctionSpec, error) {
	spec, err := p.tmpl.function(r, id)
	if err != nil {
		return spec, err
	}
	env := (&Moto{URL: motoURL}).Env()
	env["AWS_REGION"] = p.region
	maps.Copy(env, spec.Env)
	maps.Copy(env, p.env.For(id))
	env["AWS_ENDPOINT_URL_DYNAMODB"] = motoURL
	env["AWS_ENDPOINT_URL_SQS"] = motoURL
	for variable, resource := range p.tmpl.envBindings(id) {
		v, err := r.resolveString(map[string]any{"Ref": resource})
		if err != nil {
			return spec, fmt.Errorf("%s environment variable %s: %w", id, variable, err)
		}
		env[variable] = v
	}
	for _, section := range []string{allFunctions, id} {
		maps.Copy(env, p.opts.Overrides[section])
	}
	maps.Copy(env, p.opts.ExtraEnv)
	spec.Env = env
	return spec, nil
}

// clients are SDK clients for the moto at endpoint.
func (p *plan) clients(endpoint string) clients {
	return newClients(endpoint, p.region, p.keyID, p.secret)
}

func (p *plan) resolver(stackName string) (*resolver, error) {
	return newResolver(p.tmpl, p.region, motoAccount, stackName)
}

func (p *plan) poolConfig(spec FunctionSpec, size, basePort int) PoolConfig {
	return PoolConfig{
		Function:   spec.LogicalID,
		Bootstrap:  filepath.Join(p.opts.HostBuild, spec.LogicalID, "bootstrap"),
		Env:        spec.Env,
		Timeout:    spec.Timeout,
		MemorySize: spec.MemorySize,
		Size:       size,
		BasePort:   basePort,
		Logs:       p.opts.Logs,
	}
}

// Start brings up a local stack: moto (started, or reused), the template's
// tables and queues, a pool of emulator instances per function, the gateway
// in front of the HTTP API function, pollers feeding each SQS event source,
// and schedulers for Schedule events when SweepInterval is set. On error it
// leaves nothing running.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	p, err := prepare(opts)
	if err != nil {
		return nil, err
	}
	opts = p.opts
	s := &Stack{Functions: map[string]FunctionSpec{}, pools: map[string]*Pool{}, log: opts.Logger}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()

	s.MotoURL = opts.MotoURL
	if s.MotoURL == "" {
		if s.moto, err = StartMoto(ctx, opts.MotoPort, opts.MotoLogs); err != nil {
			return nil, err
		}
		s.MotoURL = s.moto.URL
	} else if err := checkListening(s.MotoURL); err != nil {
		return nil, err
	}
	s.clients = p.clients(s.MotoURL)

	r, err := p.resolver(opts.StackName)
	if err != nil {
		return nil, err
	}
	if s.Resources, err = createResources(ctx, s.clients, p.tmpl, r, p.names, opts.QueueAttributes); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	pollCtx, stopPolls := context.WithCancel(runCtx)
	s.stopPolls = stopPolls
	for _, id := range opts.Functions {
		spec, err := p.functionSpec(r, id, s.MotoURL)
		if err != nil {
			return nil, err
		}
		pool, err := StartPool(ctx, p.poolConfig(spec, cmp.Or(opts.PoolSizes[id], 2), opts.FunctionPorts[id]))
		if err != nil {
			return nil, err
		}
		s.Functions[id] = spec
		s.pools[id] = pool
		if spec.HTTPAPI && s.gateway == nil {
			if err := s.startGateway(pool, opts); err != nil {
				return nil, err
			}
		}
		for _, ev := range spec.SQS {
			q := s.Resources.Queues[ev.Queue]
			for range pool.Size() {
				poller := &Poller{
					SQS: s.clients.sqs, Invoker: pool, QueueURL: q.URL, QueueARN: q.ARN, Region: p.region,
					BatchSize: ev.BatchSize, Window: ev.Window, ReportBatchItemFailures: ev.ReportBatchItemFailures,
					Logger: s.log.With("function", id, "event", ev.Name),
				}
				s.polls.Go(func() { poller.Run(pollCtx, runCtx) })
			}
		}
		if opts.SweepInterval > 0 {
			for _, sch := range spec.Schedules {
				log := s.log.With("function", id, "event", sch.Name)
				s.wg.Go(func() { schedule(runCtx, pool, []byte(sch.Input), opts.SweepInterval, log) })
			}
		}
	}
	if pool := s.pools[IngestFunction]; pool != nil {
		s.IngestURL = pool.Instances()[0].URL()
	}
	if pool := s.pools[DeliveryFunction]; pool != nil {
		s.DeliveryURL = pool.Instances()[0].URL()
	}
	return s, nil
}

func (s *Stack) startGateway(pool *Pool, opts Options) error {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(opts.GatewayPort))
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	gw := &Gateway{Invoker: pool, Timeout: opts.GatewayTimeout, AccountID: motoAccount,
		Logger: s.log.With("component", "gateway", "function", pool.Function())}
	s.gateway = &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	s.APIURL = "http://" + l.Addr().String()
	s.wg.Go(func() {
		if err := s.gateway.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("gateway stopped", "error", err)
		}
	})
	return nil
}

// Pool returns the running pool of a function, or nil.
func (s *Stack) Pool(function string) *Pool { return s.pools[function] }

// DynamoDB and SQS are clients for the stack's moto.
func (s *Stack) DynamoDB() *dynamodb.Client { return s.clients.dynamo }

// SQS is a client for the stack's moto.
func (s *Stack) SQS() *sqs.Client { return s.clients.sqs }

// TableName is the local name of the template's table.
func (s *Stack) TableName() (string, error) {
	id, err := onlyTable(slices.Collect(maps.Keys(s.Resources.Tables)))
	return s.Resources.Tables[id].Name, err
}

// onlyTable is the logical id of the template's one table.
func onlyTable(ids []string) (string, error) {
	if len(ids) != 1 {
		return "", fmt.Errorf("the template has %d tables; want one", len(ids))
	}
	return ids[0], nil
}

// Store is the store over the stack's table, as the functions see it.
func (s *Stack) Store() (*dynamo.Store, error) {
	table, err := s.TableName()
	if err != nil {
		return nil, err
	}
	return dynamo.New(dynamo.Deps{DB: s.clients.dynamo, Table: table}), nil
}

// SeedProject creates an API token for a project and returns it; only its
// hash is stored.
func (s *Stack) SeedProject(ctx context.Context, project string) (string, error) {
	store, err := s.Store()
	if err != nil {
		return "", err
	}
	token := herald.NewToken()
	_, err = store.Seed(ctx, project, token, "local stack")
	return token, err
}

// StopPolling stops feeding queues to functions, as disabling every event
// source mapping would, and returns once no batch is being invoked: after
// it, the functions send nothing more from the queues. Messages stay on
// their queues.
func (s *Stack) StopPolling() {
	s.stopPolls()
	s.polls.Wait()
}

// Stop stops everything the stack started. It is safe to call more than
// once, and on a stack that failed to start.
func (s *Stack) Stop() {
	if s.cancel != nil {
		s.cancel()
	}
	if s.gateway != nil {
		_ = s.gateway.Close()
	}
	for _, p := range s.pools {
		p.Stop()
	}
	s.polls.Wait()
	s.wg.Wait()
	s.moto.Stop()
	s.moto = nil
}

// ErrNotRunning means no local stack answers where the env file says.
var ErrNotRunning = errors.New("the local stack is not running")

func checkListening(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("moto URL %q: not a URL", rawURL)
	}
	if !listening(u.Host, time.Second) {
		return fmt.Errorf("%w: nothing listens at %s", ErrNotRunning, rawURL)
	}
	return nil
}

// LocalTable returns a DynamoDB client for the running local stack and the
// name of its table, both as the env file gives them (opts.MotoURL, if set,
// overrides the endpoint).
func LocalTable(opts Options) (*dynamodb.Client, string, error) {
	p, endpoint, err := prepareRunning(opts)
	if err != nil {
		return nil, "", err
	}
	id, err := onlyTable(p.tmpl.LogicalIDs(typeTable))
	if err != nil {
		return nil, "", err
	}
	return p.clients(endpoint).dynamo, p.names[id], nil
}

// prepareRunning prepares for a local stack that is already running, and
// finds its moto: at opts.MotoURL, else at the env file's DynamoDB endpoint.
func prepareRunning(opts Options) (*plan, string, error) {
	p, err := prepare(opts)
	if err != nil {
		return nil, "", err
	}
	endpoint := cmp.Or(p.opts.MotoURL, p.env.For(allFunctions)["AWS_ENDPOINT_URL_DYNAMODB"])
	if endpoint == "" {
		return nil, "", fmt.Errorf("events/env.json sets no AWS_ENDPOINT_URL_DYNAMODB to find the local stack at")
	}
	return p, endpoint, checkListening(endpoint)
}

// InvokeOnce runs one function once with payload against a running local
// stack, as `sam local invoke` does: one emulator instance, the function's
// environment from the template and the env file, pointed at the stack's
// moto (opts.MotoURL, else the env file's AWS_ENDPOINT_URL_DYNAMODB). It
// returns the function's result, or a *FunctionError with the error
// document.
func InvokeOnce(ctx context.Context, opts Options, function string, payload []byte) ([]byte, error) {
	p, motoURL, err := prepareRunning(opts)
	if err != nil {
		return nil, err
	}
	r, err := p.resolver(p.opts.StackName)
	if err != nil {
		return nil, err
	}
	if _, err := lookupResources(ctx, p.clients(motoURL), p.tmpl, r, p.names); err != nil {
		return nil, fmt.Errorf("%w: moto at %s lacks the stack's resources: %w", ErrNotRunning, motoURL, err)
	}
	if t := p.tmpl.Resources[function]; t.Type != typeFunction {
		return nil, fmt.Errorf("the template has no function %q; it has %v", function, p.tmpl.LogicalIDs(typeFunction))
	}
	spec, err := p.functionSpec(r, function, motoURL)
	if err != nil {
		return nil, err
	}
	pool, err := StartPool(ctx, p.poolConfig(spec, 1, 0))
	if err != nil {
		return nil, err
	}
	defer pool.Stop()
	return pool.Invoke(ctx, payload)
}

// CreateResources creates the template's tables and queues in the moto at
// motoURL, each named prefix-<logical id in kebab case>, and returns them:
// fresh resources for an integration test, without any function.
func CreateResources(ctx context.Context, motoURL, prefix string) (Resources, error) {
	p, err := prepare(Options{MotoURL: motoURL, StackName: prefix})
	if err != nil {
		return Resources{}, err
	}
	names := make(map[string]string, len(p.names))
	for id := range p.names {
		names[id] = prefix + "-" + kebab(id)
	}
	fifoNames(p.tmpl, names)
	r, err := p.resolver(prefix)
	if err != nil {
		return Resources{}, err
	}
	return createResources(ctx, p.clients(motoURL), p.tmpl, r, names, nil)
}

// QueueCounts are a queue's approximate message counts, as SQS reports them.
type QueueCounts struct {
	Visible  int // ApproximateNumberOfMessages
	InFlight int // ApproximateNumberOfMessagesNotVisible: received, not deleted
	Delayed  int // ApproximateNumberOfMessagesDelayed
}

// Total is every message the queue holds.
func (c QueueCounts) Total() int { return c.Visible + c.InFlight + c.Delayed }

// CountMessages reads a queue's approximate message counts.
func CountMessages(ctx context.Context, client *sqs.Client, queueURL string) (QueueCounts, error) {
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		return QueueCounts{}, fmt.Errorf("count the messages of %s: %w", queueURL, err)
	}
	var c QueueCounts
	for name, n := range map[sqstypes.QueueAttributeName]*int{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages:           &c.Visible,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible: &c.InFlight,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed:    &c.Delayed,
	} {
		v, err := strconv.Atoi(out.Attributes[string(name)])
		if err != nil {
			return QueueCounts{}, fmt.Errorf("%s of %s: %q", name, queueURL, out.Attributes[string(name)])
		}
		*n = v
	}
	return c, nil
}
