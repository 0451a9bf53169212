package sdkbench_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/test/benchkit"
	"github.com/heraldhq/herald/test/testenv"
)

func TestMain(m *testing.M) {
	if target := os.Getenv(frontEnv); target != "" {
		os.Exit(serveFront(target))
	}
	if name := os.Getenv(coldEnv); name != "" {
		os.Exit(coldMain(name))
	}
	code := testenv.Run(m)
	stopFronts()
	os.Exit(code)
}

// clients are the two SDK clients a function builds at cold start.
type clients struct {
	db *dynamodb.Client
	q  *sqs.Client
}

// setup is one way of building the clients. Each loads the configuration
// from the environment as a function's main does (AWS_ENDPOINT_URL_DYNAMODB,
// AWS_ENDPOINT_URL_SQS, AWS_REGION, credentials), so that the endpoint comes
// from the same place as on the local stack.
type setup struct {
	name   string
	config func(ctx context.Context) (aws.Config, error)
	dynamo []func(*dynamodb.Options)
	sqs    []func(*sqs.Options)
}

func (s setup) build(ctx context.Context, httpClient aws.HTTPClient) (clients, error) {
	cfg, err := s.config(ctx)
	if err != nil {
		return clients{}, err
	}
	if httpClient != nil {
		cfg.HTTPClient = httpClient
	}
	return clients{dynamodb.NewFromConfig(cfg, s.dynamo...), sqs.NewFromConfig(cfg, s.sqs...)}, nil
}

var (
	// As the functions built their clients before shared/config tuned
	// them: the SDK's defaults.
	defaultSetup = setup{name: "default", config: untuned}
	// As they build them with shared/config.
	tunedSetup = setup{name: "tuned", config: config.AWS,
		dynamo: []func(*dynamodb.Options){config.DynamoDBOptions},
		sqs:    []func(*sqs.Options){config.SQSOptions}}

	setups = []setup{defaultSetup, tunedSetup}
)

func untuned(ctx context.Context) (aws.Config, error) { return awsconfig.LoadDefaultConfig(ctx) }

// fixture is one test's table and queue in moto, with the items the read
// benchmarks read already written.
type fixture struct {
	table, queueURL string
}

const (
	queryPK    = "B#query"
	queryItems = 10
	itemPK     = "B#item"
	itemSK     = "I#1"
)

// newFixture creates the table and queue, and points the environment's
// endpoints at moto or at a front, as c says.
func newFixture(b testing.TB, c conn) fixture {
	b.Helper()
	env := testenv.New(b)
	for k, v := range env.Moto.Env() {
		b.Setenv(k, v)
	}
	u, ca := endpoint(b, c)
	b.Setenv("AWS_ENDPOINT_URL_DYNAMODB", u)
	b.Setenv("AWS_ENDPOINT_URL_SQS", u)
	// The SDK's standard setting for a private CA, read by
	// LoadDefaultConfig as on AWS; empty, it is ignored.
	b.Setenv("AWS_CA_BUNDLE", ca)
	f := fixture{table: env.Table, queueURL: env.QueueURL}
	ctx := context.Background()
	if _, err := env.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &f.table, Item: item(itemPK, itemSK)}); err != nil {
		b.Fatalf("put the item to read: %v", err)
	}
	for i := range queryItems {
		small := map[string]ddbtypes.AttributeValue{
			"PK": &ddbtypes.AttributeValueMemberS{Value: queryPK},
			"SK": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("S#%02d", i)},
			"v":  &ddbtypes.AttributeValueMemberS{Value: "a small item of a query page"},
			"n":  &ddbtypes.AttributeValueMemberN{Value: strconv.Itoa(i)},
		}
		if _, err := env.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &f.table, Item: small}); err != nil {
			b.Fatalf("put query item %d: %v", i, err)
		}
	}
	b.Cleanup(func() {
		// moto keeps every message in memory: drop this test's.
		_, _ = env.SQS.PurgeQueue(context.Background(), &sqs.PurgeQueueInput{QueueUrl: &f.queueURL})
	})
	return f
}

// item is a call-like item of about 400 bytes as DynamoDB sizes items
// (attribute names plus values).
func item(pk, sk string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		"PK":      &ddbtypes.AttributeValueMemberS{Value: pk},
		"SK":      &ddbtypes.AttributeValueMemberS{Value: sk},
		"type":    &ddbtypes.AttributeValueMemberS{Value: "call"},
		"webhook": &ddbtypes.AttributeValueMemberS{Value: "01JDZ8Q4T7K2M9X3V5B6N8C0RE"},
		"url":     &ddbtypes.AttributeValueMemberS{Value: "https://example.com/hooks/site-build?token=abcdefghijklmnop"},
		"status":  &ddbtypes.AttributeValueMemberS{Value: "pending"},
		"attempt": &ddbtypes.AttributeValueMemberN{Value: "0"},
		"created": &ddbtypes.AttributeValueMemberS{Value: "2026-11-26T10:54:09.123Z"},
		"ttl":     &ddbtypes.AttributeValueMemberN{Value: "1798282449"},
		"headers": &ddbtypes.AttributeValueMemberS{Value: `{"Content-Type":"application/json","X-Team":"web","User-Agent":"DatoCMS (datocms.com)"}`},
		"summary": &ddbtypes.AttributeValueMemberS{Value: strings.Repeat("record 293467 of model 1423 updated; ", 4)},
	}
}

// itemSize is DynamoDB's size of an item of string and number attributes.
func itemSize(it map[string]ddbtypes.AttributeValue) int {
	n := 0
	for k, v := range it {
		n += len(k)
		switch v := v.(type) {
		case *ddbtypes.AttributeValueMemberS:
			n += len(v.Value)
		case *ddbtypes.AttributeValueMemberN:
			n += len(v.Value)
		}
	}
	return n
}

// messageBody is a delivery job of about 2.5 KB.
var messageBody = `{"project_id":"205","call_id":"01JDZ8Q4T7K2M9X3V5B6N8C0RE","trigger":"first","pad":"` +
	strings.Repeat("x", 2500-90) + `"}`

func entries(n int) []sqstypes.SendMessageBatchRequestEntry {
	out := make([]sqstypes.SendMessageBatchRequestEntry, n)
	for i := range out {
		out[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(messageBody)}
	}
	return out
}

// operation is one SDK call, checked: a call that failed or answered
// something else must fail the benchmark, not look cheap.
type operation struct {
	name string
	call func(ctx context.Context, c clients, f fixture) error
}

var (
	putItem = operation{"PutItem", func(ctx context.Context, c clients, f fixture) error {
		_, err := c.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &f.table, Item: item("B#put", "I#1")})
		return err
	}}
	updateItem = operation{"UpdateItem", func(ctx context.Context, c clients, f fixture) error {
		out, err := c.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:           &f.table,
			Key:                 key(itemPK, itemSK),
			UpdateExpression:    aws.String("SET #a = #a + :one, #s = :s"),
			ConditionExpression: aws.String("attribute_exists(PK) AND #s <> :done"),
			ExpressionAttributeNames: map[string]string{
				"#a": "attempt", "#s": "status",
			},
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
				":one":  &ddbtypes.AttributeValueMemberN{Value: "1"},
				":s":    &ddbtypes.AttributeValueMemberS{Value: "sending"},
				":done": &ddbtypes.AttributeValueMemberS{Value: "delivered"},
			},
			ReturnValues: ddbtypes.ReturnValueAllNew,
		})
		if err != nil {
			return err
		}
		if got := itemSize(out.Attributes); got < 350 {
			return fmt.Errorf("UpdateItem returned %d bytes of item; want the whole item", got)
		}
		return nil
	}}
	getItem = operation{"GetItem", func(ctx context.Context, c clients, f fixture) error {
		out, err := c.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &f.table, Key: key(itemPK, itemSK)})
		if err != nil {
			return err
		}
		if got := itemSize(out.Item); got < 350 {
			return fmt.Errorf("GetItem returned %d bytes of item; want the whole item", got)
		}
		return nil
	}}
	query10 = operation{"Query10", func(ctx context.Context, c clients, f fixture) error {
		out, err := c.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 &f.table,
			KeyConditionExpression:    aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: queryPK}},
		})
		if err != nil {
			return err
		}
		if len(out.Items) != queryItems {
			return fmt.Errorf("Query returned %d items; want %d", len(out.Items), queryItems)
		}
		return nil
	}}
	sendBatch1  = operation{"SendMessageBatch1", sendBatch(1)}
	sendBatch10 = operation{"SendMessageBatch10", sendBatch(10)}

	operations = []operation{putItem, updateItem, getItem, query10, sendBatch1, sendBatch10}
)

func sendBatch(n int) func(ctx context.Context, c clients, f fixture) error {
	batch := entries(n)
	return func(ctx context.Context, c clients, f fixture) error {
		out, err := c.q.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &f.queueURL, Entries: batch})
		if err != nil {
			return err
		}
		if len(out.Successful) != n || len(out.Failed) != 0 {
			return fmt.Errorf("SendMessageBatch: %d sent, %d failed; want %d sent", len(out.Successful), len(out.Failed), n)
		}
		return nil
	}
}

func key(pk, sk string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		"PK": &ddbtypes.AttributeValueMemberS{Value: pk},
		"SK": &ddbtypes.AttributeValueMemberS{Value: sk},
	}
}

// BenchmarkSDK makes each operation with the clients of each setup, on
// connections as moto serves them (conn=close: a TCP connection per call)
// and kept alive as AWS serves them (conn=keepalive, through the front).
// cpu-ms/op is this process's CPU per call (user and system, every
// thread): the client's share, since moto and the front run in other
// processes. sys-ms/op is the system part of it: sockets, and on loopback
// the kernel's TCP work for both ends of a packet this process sends.
func BenchmarkSDK(b *testing.B) {
	if n := itemSize(item("B#put", "I#1")); n < 380 || n > 440 {
		b.Fatalf("the benchmark item is %d bytes; want about 400", n)
	}
	for _, op := range operations {
		b.Run("op="+op.name, func(b *testing.B) {
			for _, conn := range []conn{connClose, connKeepAlive, connTLS, connTLSNew} {
				b.Run("conn="+string(conn), func(b *testing.B) {
					for _, s := range setups {
						b.Run("config="+s.name, func(b *testing.B) {
							f := newFixture(b, conn)
							ctx := context.Background()
							c, err := s.build(ctx, nil)
							if err != nil {
								b.Fatalf("build clients: %v", err)
							}
							// The first call opens the connection and fills
							// the SDK's caches: a warm function's calls do
							// neither.
							if err := op.call(ctx, c, f); err != nil {
								b.Fatalf("first %s: %v", op.name, err)
							}
							b.ReportAllocs()
							gc0, _ := readGC()
							cpu0, sys0 := benchkit.ProcessCPU(), systemCPU()
							for b.Loop() {
								if err := op.call(ctx, c, f); err != nil {
									b.Fatalf("%s: %v", op.name, err)
								}
							}
							reportMS(b, benchkit.ProcessCPU()-cpu0, "cpu-ms/op")
							reportMS(b, systemCPU()-sys0, "sys-ms/op")
							reportGC(b, gc0)
						})
					}
				})
			}
		})
	}
}

// reportMS reports a duration per iteration in milliseconds, the unit make
// cost prints.
func reportMS(b *testing.B, d time.Duration, unit string) {
	b.Helper()
	b.ReportMetric(float64(d)/float64(time.Millisecond)/float64(b.N), unit)
}

// systemCPU is the system part of benchkit.ProcessCPU.
func systemCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Stime.Nano())
}

// getBurst makes inFlight GetItem calls at once, and fails tb if any fails.
func getBurst(tb testing.TB, ctx context.Context, c clients, f fixture) {
	tb.Helper()
	var wg sync.WaitGroup
	errs := make([]error, inFlight)
	for i := range inFlight {
		wg.Go(func() { errs[i] = getItem.call(ctx, c, f) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		tb.Fatalf("GetItem: %v", err)
	}
}
