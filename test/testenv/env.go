package testenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/tools/localstack"
)

var (
	motoOnce sync.Once
	moto     *localstack.Moto
	motoErr  error
	seq      atomic.Int64
)

// Run runs a package's tests and stops the moto server they started.
func Run(m *testing.M) int {
	code := m.Run()
	if moto != nil {
		moto.Stop()
	}
	return code
}

// Moto returns the test binary's moto server, starting it on first use.
func Moto(t testing.TB) *localstack.Moto {
	t.Helper()
	motoOnce.Do(func() {
		var logs io.Writer
		if os.Getenv("HERALD_TEST_MOTO_LOGS") != "" {
			logs = os.Stderr
		} else if dir := LogDir(); dir != "" {
			// Kept with the suite's other logs, for test/logscan.
			if f, err := openLog(dir, fmt.Sprintf("moto.%d.log", os.Getpid())); err == nil {
				logs = f
			}
		}
		moto, motoErr = localstack.StartMoto(context.Background(), 0, logs)
	})
	if motoErr != nil {
		t.Fatalf("start moto: %v", motoErr)
	}
	return moto
}

// Env is one test's AWS: a fresh table and delivery queues in moto, and
// clients that count their calls.
type Env struct {
	Moto     *localstack.Moto
	AWS      aws.Config
	DB       *dynamodb.Client
	SQS      *sqs.Client
	Table    string
	QueueURL string // retries and resends
	DLQURL   string
	FirstURL string // first attempts (FIFO)
	Calls    *Counter
}

// New creates a table and queues from template.yaml, named for this test.
func New(t testing.TB) *Env {
	t.Helper()
	m := Moto(t)
	counter := NewCounter()
	cfg := AWSConfig(m.URL)
	counter.Attach(&cfg)
	prefix := fmt.Sprintf("t%d-%d", os.Getpid(), seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := createResources(ctx, m, prefix)
	if err != nil {
		t.Fatalf("create resources from template.yaml: %v", err)
	}
	e := &Env{
		Moto: m, AWS: cfg,
		DB:    dynamodb.NewFromConfig(cfg),
		SQS:   sqs.NewFromConfig(cfg),
		Table: res.table, QueueURL: res.queueURL, DLQURL: res.dlqURL, FirstURL: res.firstURL,
		Calls: counter,
	}
	return e
}

// AWSConfig is an SDK configuration pointed at moto.
func AWSConfig(endpoint string) aws.Config {
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(endpoint),
	}
	config.Tune(&cfg) // as the functions have it
	return cfg
}

type resources struct {
	table, queueURL, dlqURL, firstURL string
}

func createResources(ctx context.Context, m *localstack.Moto, prefix string) (resources, error) {
	res, err := localstack.CreateResources(ctx, m.URL, prefix)
	if err != nil {
		return resources{}, err
	}
	if len(res.Tables) != 1 {
		return resources{}, fmt.Errorf("template has %d tables; want 1", len(res.Tables))
	}
	var out resources
	for _, t := range res.Tables {
		out.table = t.Name
	}
	out.queueURL = res.Queues["DeliveryQueue"].URL
	out.dlqURL = res.Queues["DeliveryDLQ"].URL
	out.firstURL = res.Queues["FirstAttemptQueue"].URL
	if out.queueURL == "" || out.dlqURL == "" || out.firstURL == "" {
		return resources{}, fmt.Errorf("template queues: %v", res.Queues)
	}
	return out, nil
}
