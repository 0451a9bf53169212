// Package config reads a function's settings from its environment, once per
// cold start, and builds the AWS SDK configuration from the SDK's standard
// settings, so the same binary runs against AWS and against the local stack
// (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS). Start is the main every
// function shares.
package config

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/shared/herald"
)

// Settings are what the template's Environment.Variables give every function.
type Settings struct {
	TableName           string
	QueueURL            string // retries and resends
	FirstQueueURL       string // first attempts (FIFO)
	LogLevel            slog.Level
	Stage               string
	Retention           time.Duration
	AllowPrivateTargets bool
	// AutoDisableAfter is how long every attempt of a webhook must fail
	// before Herald disables it; 0 never does (AUTO_DISABLE_AFTER_HOURS).
	AutoDisableAfter time.Duration
}

// MaxAutoDisableAfterHours bounds AUTO_DISABLE_AFTER_HOURS (template.yaml's
// AutoDisableAfterHours has the same bound): a year.
const MaxAutoDisableAfterHours = 8760

// FromEnv reads Settings from environment variables, through getenv.
func FromEnv(getenv func(string) string) (Settings, error) {
	s := Settings{
		TableName:        getenv("TABLE_NAME"),
		QueueURL:         getenv("DELIVERY_QUEUE_URL"),
		FirstQueueURL:    getenv("FIRST_ATTEMPT_QUEUE_URL"),
		Stage:            getenv("HERALD_STAGE"),
		Retention:        30 * 24 * time.Hour,
		AutoDisableAfter: herald.DefaultAutoDisableAfter,
	}
	if s.TableName == "" {
		return s, fmt.Errorf("TABLE_NAME is not set")
	}
	if s.QueueURL == "" {
		return s, fmt.Errorf("DELIVERY_QUEUE_URL is not set")
	}
	if s.FirstQueueURL == "" {
		return s, fmt.Errorf("FIRST_ATTEMPT_QUEUE_URL is not set")
	}
	if err := s.LogLevel.UnmarshalText([]byte(cmp.Or(getenv("LOG_LEVEL"), "info"))); err != nil {
		return s, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	if v := getenv("CALL_RETENTION_DAYS"); v != "" {
		days, err := strconv.Atoi(v)
		if err != nil || days < herald.MinRetentionDays || days > herald.MaxRetentionDays {
			// Shorter than the retry schedule, TTL would delete calls whose
			// retries are still waiting (template.yaml has the same bounds).
			return s, fmt.Errorf("CALL_RETENTION_DAYS must be a whole number of days from %d (the retry schedule, 3.3 days, and a margin) to %d, not %q",
				herald.MinRetentionDays, herald.MaxRetentionDays, v)
		}
		s.Retention = time.Duration(days) * 24 * time.Hour
	}
	if v := getenv("AUTO_DISABLE_AFTER_HOURS"); v != "" {
		// Hours, with a fraction so that the local stack can use seconds
		// (docs/endpoint-health.md: 0.01 is 36 seconds).
		hours, err := strconv.ParseFloat(v, 64)
		if err != nil || !(hours >= 0 && hours <= MaxAutoDisableAfterHours) { // NaN fails both
			return s, fmt.Errorf("AUTO_DISABLE_AFTER_HOURS must be a number of hours from 0 (never) to %d, not %q", MaxAutoDisableAfterHours, v)
		}
		s.AutoDisableAfter = time.Duration(hours * float64(time.Hour)).Round(time.Second)
	}
	switch strings.ToLower(getenv("ALLOW_PRIVATE_TARGETS")) {
	case "", "false", "0":
	case "true", "1":
		s.AllowPrivateTargets = true
	default:
		return s, fmt.Errorf("ALLOW_PRIVATE_TARGETS must be true or false")
	}
	return s, nil
}

// AWS loads the SDK configuration: region, credentials and per-service
// endpoints from the standard environment variables and files; then Tune.
// Build the clients with the per-service options too:
//
//	dynamodb.NewFromConfig(cfg, config.DynamoDBOptions)
//	sqs.NewFromConfig(cfg, config.SQSOptions)
func AWS(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return cfg, fmt.Errorf("load AWS configuration: %w", err)
	}
	Tune(&cfg)
	return cfg, nil
}

// MaxIdleConnsPerService is how many connections to one service the SDK
// keeps open between calls: as many as a function has calls in flight to it
// (ingest writes up to 8 events x 16 calls at once; delivery a batch of 10,
// the sweep 16). The SDK's default keeps 10 and closes the rest when a burst
// ends, and on AWS each connection opened again costs a TLS handshake, about
// 1.3 ms of CPU against 0.45 ms for a whole call on a kept connection
// (test/sdkbench). An idle connection costs only memory, and only once a
// burst has opened it.
const MaxIdleConnsPerService = 128

// Tune sets what the SDK's defaults get wrong for Herald, on a configuration
// the functions, tools and tests share: the HTTP client keeps open as many
// connections as the functions have calls in flight, and hands net/http
// request bodies it cannot trip on (see plainBodies). It changes the SDK's
// own HTTP client, keeping its timeouts and AWS_CA_BUNDLE; a client of
// another kind is left alone.
//
// What test/sdkbench measured and left as the SDK has it, and why, is in
// docs/performance.md ("The AWS SDK's CPU per call").
func Tune(cfg *aws.Config) {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = awshttp.NewBuildableClient()
	}
	if b, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		cfg.HTTPClient = plainBodies{b.WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = MaxIdleConnsPerService
			// The pool's total must not cap it: DynamoDB and SQS each
			// have their own host.
			t.MaxIdleConns = 2 * MaxIdleConnsPerService
		})}
	}
}

// plainBodies is the SDK's HTTP client with each request body stripped to
// Read and Close. The SDK closes a request's body as soon as the response
// headers are in, and its body then answers WriteTo with io.EOF as an
// error. net/http, having written the body, reads it once more to check
// that nothing follows the Content-Length; when that read comes after the
// SDK's close (a busy machine makes it likely) it goes through WriteTo,
// takes the EOF for a failed write, and closes the connection under the
// response being read. The SDK then sees the answer lost and sends the call
// again: a conditional write that had succeeded then fails its condition.
// Read after the close answers io.EOF, which ends that check cleanly.
// TestPlainBodiesKeepTheAnswer shows the race and its end.
type plainBodies struct{ *awshttp.BuildableClient }

func (c plainBodies) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = readCloser{r.Body}
	}
	return c.BuildableClient.Do(r)
}

// readCloser hides every method of a body but Read and Close.
type readCloser struct{ io.ReadCloser }

// DynamoDBOptions is the option every DynamoDB client takes:
// dynamodb.NewFromConfig(cfg, config.DynamoDBOptions). It keeps the SDK's
// retries for DynamoDB (4 attempts, throttles and lost responses included)
// and drops their client-side quota: see withoutRetryQuota.
func DynamoDBOptions(o *dynamodb.Options) { o.Retryer = withoutRetryQuota(o.Retryer) }

// SQSOptions is the option every SQS client takes, as DynamoDBOptions.
func SQSOptions(o *sqs.Options) { o.Retryer = withoutRetryQuota(o.Retryer) }

// withoutRetryQuota returns the SDK's standard retryer without its retry
// quota. The quota is a token bucket shared by every call of a client: 500
// tokens, 14 taken per retry (5 per throttle), 1 given back per call that
// succeeds at once. After some 35 failed retries in a row, as in a burst of
// DynamoDB throttles or a network fault, the client stops retrying and fails
// every call at its first error until enough calls have succeeded: exactly
// when Herald's guarantees lean on the retries. The quota exists to stop a
// large fleet of clients from multiplying an outage's load; a Lambda
// function's calls in flight are few (MaxIdleConnsPerService) and each still
// makes at most its few attempts, with the SDK's jittered exponential
// backoff, so the bound on retries stays. The retryer is otherwise
// unchanged: attempts, backoff, what is retryable. A retryer that is not the
// standard one (AWS_RETRY_MODE=adaptive rate-limits sends on purpose) is
// left alone. Its CPU cost was nothing measurable either way.
func withoutRetryQuota(r aws.Retryer) aws.Retryer {
	std, ok := r.(*retry.Standard)
	if !ok {
		return r
	}
	return noRetryQuota{std}
}

type noRetryQuota struct{ *retry.Standard }

func noRelease(error) error { return nil }

func (noRetryQuota) GetRetryToken(context.Context, error) (func(error) error, error) {
	return noRelease, nil
}

func (noRetryQuota) GetAttemptToken(context.Context) (func(error) error, error) {
	return noRelease, nil
}

// GetInitialToken is the deprecated form of GetAttemptToken, which the SDK
// still calls on a retryer that is not a RetryerV2.
func (noRetryQuota) GetInitialToken() func(error) error { return noRelease }

var _ aws.RetryerV2 = noRetryQuota{}

// GCPercent is the garbage collector's target a function runs with: a heap
// may grow to five times what is live before a collection, instead of
// twice. A function's live heap is a few MB and its SDK calls allocate some
// 30 KB each, so at Go's default a collection ran every few dozen calls and
// cost more CPU than the calls' own work; at 400, 19 to 27 % less CPU per
// call on this machine (test/sdkbench, BenchmarkRuntimeInterleaved). The
// heap stays far below the function's memory; TuneRuntime caps it anyway.
const GCPercent = 400

// TuneRuntime sets the Go runtime for a Lambda function, where the runtime's
// defaults are made for a process with cores of its own: one P (GOMAXPROCS=1)
// and GCPercent, with a soft memory limit of 3/4 of the function's memory.
// Each applies only when the environment, read through getenv, does not set
// it already (GOMAXPROCS, GOGC, GOMEMLIMIT), so the template can overrule it.
//
// One P: a function at 256 MB gets about a seventh of a vCPU, which Go sees
// as two CPUs; with two Ps every call's wake-ups hop between threads (futex
// wake-ups, a spinning thread looking for work), which cost 22 to 34 % of a
// call's CPU here. Goroutines still run concurrently: a batch's sends and
// calls wait on the network, not on a CPU. GCPercent and one P together: 31
// to 42 % less CPU per SDK call. Call it first thing in main; it changes the
// whole process.
func TuneRuntime(getenv func(string) string) {
	if getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	if getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		// A collection before the heap nears the function's memory,
		// whatever GCPercent lets it grow to.
		if mb, err := strconv.Atoi(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")); err == nil && mb > 0 {
			debug.SetMemoryLimit(int64(mb) << 20 * 3 / 4)
		}
	}
}

// Logger returns the JSON logger every function writes with. Times are to
// the millisecond (log ingestion is billed by the byte, and nothing a
// function logs needs nanoseconds).
func Logger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: millisecondTime}))
}

func millisecondTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 && a.Value.Kind() == slog.KindTime {
		return slog.String(slog.TimeKey, a.Value.Time().UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	}
	return a
}

// Start is a function's main: it tunes the runtime, reads the settings from
// the environment and the AWS configuration, builds the handler with them
// and hands it to the Lambda runtime. A function that cannot start can serve
// nothing: it ends init with the error, and Lambda reports the failed init.
func Start(name string, build func(Settings, aws.Config) (handler any, err error)) {
	TuneRuntime(os.Getenv)
	handler, err := load(build)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	lambda.Start(handler)
}

func load(build func(Settings, aws.Config) (any, error)) (any, error) {
	settings, err := FromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	awsCfg, err := AWS(context.Background())
	if err != nil {
		return nil, err
	}
	return build(settings, awsCfg)
}
