package config

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// failingAWS answers every request with a 500, as DynamoDB does in a
// service fault, and counts the attempts.
type failingAWS struct{ attempts atomic.Int64 }

func (f *failingAWS) Do(req *http.Request) (*http.Response, error) {
	f.attempts.Add(1)
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	body := `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"internal server error"}`
	return &http.Response{
		StatusCode: http.StatusInternalServerError, Status: "500 Internal Server Error", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		ContentLength: int64(len(body)), Body: io.NopCloser(bytes.NewReader([]byte(body))), Request: req,
	}, nil
}

func staticConfig(httpClient aws.HTTPClient) aws.Config {
	return aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		BaseEndpoint: aws.String("http://127.0.0.1:1"),
		HTTPClient:   httpClient,
	}
}

// noBackoff keeps the test fast; the retries' count and order are the SDK's.
type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

// TestRetriesOutlastAFault is the reason for withoutRetryQuota: through a
// fault longer than the SDK's retry quota lasts, every call still makes all
// its attempts. With the quota, calls after the first dozen make one.
func TestRetriesOutlastAFault(t *testing.T) {
	const calls, attempts = 40, 4
	fake := &failingAWS{}
	db := dynamodb.NewFromConfig(staticConfig(fake),
		// The SDK's DynamoDB retryer as it builds it, without its waits.
		func(o *dynamodb.Options) {
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = attempts; so.Backoff = noBackoff{} })
		},
		DynamoDBOptions)
	for i := range calls {
		_, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("t"),
			Key: map[string]ddbtypes.AttributeValue{"PK": &ddbtypes.AttributeValueMemberS{Value: strconv.Itoa(i)}}})
		var ise *ddbtypes.InternalServerError
		if !errors.As(err, &ise) {
			t.Fatalf("call %d: %v; want the service's InternalServerError after its retries", i, err)
		}
	}
	// Without DynamoDBOptions the SDK made 75 (its quota ran out after
	// the 12th call).
	if got := fake.attempts.Load(); got != calls*attempts {
		t.Errorf("%d calls made %d attempts; want %d (every call all its attempts)", calls, got, calls*attempts)
	}
}

// TestRetriesKeepTheSDKDefaults checks that the options change nothing of
// the retries but the quota: as many attempts as the SDK's default client
// of each service makes, the same errors retried.
func TestRetriesKeepTheSDKDefaults(t *testing.T) {
	cfg := staticConfig(nil)
	throttle := &ddbtypes.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
	checks := []struct {
		name      string
		def, ours aws.Retryer
	}{
		{"DynamoDB", dynamodb.NewFromConfig(cfg).Options().Retryer, dynamodb.NewFromConfig(cfg, DynamoDBOptions).Options().Retryer},
		{"SQS", sqs.NewFromConfig(cfg).Options().Retryer, sqs.NewFromConfig(cfg, SQSOptions).Options().Retryer},
	}
	for _, c := range checks {
		if _, ok := c.ours.(noRetryQuota); !ok {
			t.Errorf("%s retryer is %T; want the standard one without its quota", c.name, c.ours)
		}
		if got, want := c.ours.MaxAttempts(), c.def.MaxAttempts(); got != want {
			t.Errorf("%s MaxAttempts = %d; the SDK's default is %d", c.name, got, want)
		}
		if !c.ours.IsErrorRetryable(throttle) {
			t.Errorf("%s does not retry a throttle", c.name)
		}
		for i := range 1000 {
			if _, err := c.ours.GetRetryToken(context.Background(), throttle); err != nil {
				t.Fatalf("%s retry %d: %v; want no quota", c.name, i, err)
			}
		}
	}

	// A retryer the operator chose is theirs.
	adaptive := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.Retryer = retry.NewAdaptiveMode() }, DynamoDBOptions)
	if _, ok := adaptive.Options().Retryer.(*retry.AdaptiveMode); !ok {
		t.Errorf("an adaptive retryer became %T; want it left alone", adaptive.Options().Retryer)
	}
}

// TestTuneKeepsConnections checks the pool Tune sizes, and that it tunes the
// SDK's own HTTP client rather than replace it (which would drop its
// timeouts and AWS_CA_BUNDLE's certificates).
func TestTuneKeepsConnections(t *testing.T) {
	transport := func(t *testing.T, c aws.HTTPClient) *http.Transport {
		t.Helper()
		p, ok := c.(plainBodies)
		if !ok {
			t.Fatalf("HTTPClient is %T; want the SDK's BuildableClient, in plainBodies", c)
		}
		return p.GetTransport()
	}

	var cfg aws.Config
	Tune(&cfg)
	if tr := transport(t, cfg.HTTPClient); tr.MaxIdleConnsPerHost != MaxIdleConnsPerService || tr.MaxIdleConns < 2*MaxIdleConnsPerService {
		t.Errorf("idle connections: %d per host, %d in all; want %d per host for each of two services", tr.MaxIdleConnsPerHost, tr.MaxIdleConns, MaxIdleConnsPerService)
	}

	withCA := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.TLSClientConfig.ServerName = "kept"
	})
	cfg = aws.Config{HTTPClient: withCA}
	Tune(&cfg)
	if tr := transport(t, cfg.HTTPClient); tr.TLSClientConfig == nil || tr.TLSClientConfig.ServerName != "kept" || tr.TLSHandshakeTimeout == 0 {
		t.Errorf("Tune lost the client's TLS settings or timeouts: %+v", tr)
	}

	other := &http.Client{}
	cfg = aws.Config{HTTPClient: other}
	Tune(&cfg)
	if cfg.HTTPClient != other {
		t.Errorf("Tune replaced an HTTP client it does not know")
	}
}

func TestTuneRuntime(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	gc := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	})
	reset := func() {
		runtime.GOMAXPROCS(2)
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
	}

	reset()
	TuneRuntime(env(map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}))
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS = %d; want 1", got)
	}
	if got := debug.SetGCPercent(100); got != GCPercent {
		t.Errorf("GC percent = %d; want %d", got, GCPercent)
	}
	if got, want := debug.SetMemoryLimit(-1), int64(192<<20); got != want {
		t.Errorf("memory limit = %d; want %d (3/4 of 256 MB)", got, want)
	}

	// What the environment sets is the operator's.
	reset()
	TuneRuntime(env(map[string]string{"GOMAXPROCS": "2", "GOGC": "100", "GOMEMLIMIT": "100MiB", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}))
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Errorf("GOMAXPROCS = %d; want the environment's 2", got)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent = %d; want the environment's 100", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("memory limit = %d; want none set by TuneRuntime", got)
	}
}

// TestPlainBodiesKeepTheAnswer: the SDK closes a request's body once the
// response headers are in, and the body then answers io.EOF. net/http's
// last read of the body, to check that nothing follows the Content-Length,
// here comes only after that close, as on a busy machine; the response body
// arrives later still. Through Tune's client the answer is read whole.
func TestPlainBodiesKeepTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Length", "13")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		time.Sleep(100 * time.Millisecond)
		_, _ = io.WriteString(w, `{"answer":42}`)
	}))
	defer srv.Close()
	send := func(c aws.HTTPClient) (string, error) {
		body := &lateBody{data: strings.NewReader(`{"TableName":"t"}`), closed: make(chan struct{})}
		req, _ := http.NewRequest(http.MethodPost, srv.URL, body)
		req.ContentLength = 17
		res, err := c.Do(req)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		body.Close() // as the SDK does once Do returns
		got, err := io.ReadAll(res.Body)
		return string(got), err
	}
	var cfg aws.Config
	Tune(&cfg)
	for i := range 3 {
		if got, err := send(cfg.HTTPClient); err != nil || got != `{"answer":42}` {
			t.Fatalf("request %d through Tune's client: %q, %v; want the whole answer", i, got, err)
		}
	}
	got, err := send(awshttp.NewBuildableClient())
	t.Logf("the same through the SDK's client as it comes: %q, %v", got, err)
}

// lateBody is a request body as the SDK builds it: after Close, Read and
// WriteTo answer io.EOF. Past its data, it waits for the close.
type lateBody struct {
	data   *strings.Reader
	closed chan struct{}
	once   sync.Once
}

func (b *lateBody) Read(p []byte) (int, error) {
	if b.data.Len() > 0 {
		return b.data.Read(p)
	}
	<-b.closed
	return 0, io.EOF
}

func (b *lateBody) WriteTo(io.Writer) (int64, error) {
	<-b.closed
	return 0, io.EOF
}

func (b *lateBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}
