package localstack

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func startTestMoto(t *testing.T) *Moto {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := StartMoto(ctx, 0, testLogs{t})
	if err != nil {
		t.Fatalf("start moto: %v", err)
	}
	t.Cleanup(m.Stop)
	return m
}

// TestResourcesMatchTemplate creates template.yaml's resources in moto and
// describes them back.
func TestResourcesMatchTemplate(t *testing.T) {
	t.Parallel()
	moto := startTestMoto(t)
	ctx := context.Background()
	tmpl := loadTestTemplate(t, repoFile(t, "template.yaml"))
	env, err := LoadEnvFile(repoFile(t, "events", "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	names, err := localNames(tmpl, env, DefaultStackName)
	if err != nil {
		t.Fatal(err)
	}
	c := newClients(moto.URL, "us-east-1", "local", "local")
	r, err := newResolver(tmpl, "us-east-1", motoAccount, DefaultStackName)
	if err != nil {
		t.Fatal(err)
	}
	res, err := createResources(ctx, c, tmpl, r, names, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("table", func(t *testing.T) {
		d, err := c.dynamo.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("herald-local")})
		if err != nil {
			t.Fatal(err)
		}
		got := d.Table
		if got.BillingModeSummary == nil || got.BillingModeSummary.BillingMode != ddbtypes.BillingModePayPerRequest {
			t.Errorf("billing mode: got %+v, want PAY_PER_REQUEST", got.BillingModeSummary)
		}
		if want := keys("PK", "SK"); !reflect.DeepEqual(keySchema(got.KeySchema), want) {
			t.Errorf("key schema: got %v, want %v", keySchema(got.KeySchema), want)
		}
		var attrs []string
		for _, a := range got.AttributeDefinitions {
			attrs = append(attrs, aws.ToString(a.AttributeName)+":"+string(a.AttributeType))
		}
		sort.Strings(attrs)
		if want := []string{"GSI2PK:S", "GSI2SK:S", "PK:S", "SK:S"}; !reflect.DeepEqual(attrs, want) {
			t.Errorf("attribute definitions: got %v, want %v", attrs, want)
		}
		indexes := map[string]ddbtypes.GlobalSecondaryIndexDescription{}
		for _, ix := range got.GlobalSecondaryIndexes {
			indexes[aws.ToString(ix.IndexName)] = ix
		}
		if len(indexes) != 1 {
			t.Fatalf("indexes: got %d, want GSI2 only (the activity log needs none)", len(indexes))
		}
		gsi2 := indexes["GSI2"]
		if want := keys("GSI2PK", "GSI2SK"); !reflect.DeepEqual(keySchema(gsi2.KeySchema), want) {
			t.Errorf("GSI2 keys: got %v, want %v", keySchema(gsi2.KeySchema), want)
		}
		if gsi2.Projection == nil || gsi2.Projection.ProjectionType != ddbtypes.ProjectionTypeKeysOnly {
			t.Errorf("GSI2 projection: got %+v, want KEYS_ONLY", gsi2.Projection)
		}
		ttl, err := c.dynamo.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("herald-local")})
		if err != nil {
			t.Fatal(err)
		}
		if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != "expires_at" || d.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled {
			t.Errorf("time to live: got %+v, want expires_at ENABLED", d)
		}
	})

	t.Run("queues", func(t *testing.T) {
		dlq := queueAttrs(t, c.sqs, "herald-local-delivery-dlq")
		q := queueAttrs(t, c.sqs, "herald-local-delivery")
		for name, want := range map[string]string{"VisibilityTimeout": "180", "MessageRetentionPeriod": "1209600", "MaximumMessageSize": "262144"} {
			if q[name] != want {
				t.Errorf("DeliveryQueue %s: got %q, want %q", name, q[name], want)
			}
		}
		if dlq["MessageRetentionPeriod"] != "1209600" {
			t.Errorf("DeliveryDLQ MessageRetentionPeriod: got %q, want 1209600", dlq["MessageRetentionPeriod"])
		}
		var redrive struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     any    `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(q["RedrivePolicy"]), &redrive); err != nil {
			t.Fatalf("RedrivePolicy %q: %v", q["RedrivePolicy"], err)
		}
		if redrive.DeadLetterTargetArn != dlq["QueueArn"] || dlq["QueueArn"] != "arn:aws:sqs:us-east-1:123456789012:herald-local-delivery-dlq" {
			t.Errorf("RedrivePolicy target: got %q, want the DLQ's ARN %q", redrive.DeadLetterTargetArn, dlq["QueueArn"])
		}
		if n, _ := json.Marshal(redrive.MaxReceiveCount); string(n) != "5" && string(n) != `"5"` {
			t.Errorf("maxReceiveCount: got %s, want 5", n)
		}
		if got, want := res.Queues["DeliveryQueue"].URL, moto.URL+"/123456789012/herald-local-delivery"; got != want {
			t.Errorf("queue URL: got %q, want %q", got, want)
		}
	})

	// The first-attempt queue is FIFO, and its deduplication holds as SQS
	// documents it: five minutes from the first send, even once that copy
	// was received and deleted (tools/moto/herald_moto.py makes moto do so).
	t.Run("first-attempt queue", func(t *testing.T) {
		q := queueAttrs(t, c.sqs, "herald-local-first-attempts.fifo")
		for name, want := range map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "false", "VisibilityTimeout": "180"} {
			if q[name] != want {
				t.Errorf("FirstAttemptQueue %s: got %q, want %q", name, q[name], want)
			}
		}
		if dlq := queueAttrs(t, c.sqs, "herald-local-first-attempts-dlq.fifo"); dlq["FifoQueue"] != "true" {
			t.Errorf("FirstAttemptDLQ is not FIFO: %v", dlq)
		}
		url := aws.String(res.Queues["FirstAttemptQueue"].URL)
		send := func() {
			if _, err := c.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String("job"),
				MessageGroupId: aws.String("call-1"), MessageDeduplicationId: aws.String("call-1")}); err != nil {
				t.Fatal(err)
			}
		}
		send()
		got, err := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10})
		if err != nil || len(got.Messages) != 1 {
			t.Fatalf("receive: %v %v", got, err)
		}
		if _, err := c.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: url, ReceiptHandle: got.Messages[0].ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
		send() // the SDK sending again after a lost answer
		if again, _ := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10}); len(again.Messages) != 0 {
			t.Errorf("a copy sent within five minutes of the first, after it was deleted, was delivered: %v", again.Messages)
		}
	})

	t.Run("again on the same moto", func(t *testing.T) {
		r2, err := newResolver(tmpl, "us-east-1", motoAccount, DefaultStackName)
		if err != nil {
			t.Fatal(err)
		}
		again, err := createResources(ctx, c, tmpl, r2, names, map[string]map[string]string{"DeliveryQueue": {"VisibilityTimeout": "7"}})
		if err != nil {
			t.Fatalf("adopting existing resources: %v", err)
		}
		if !reflect.DeepEqual(again, res) {
			t.Errorf("got %+v, want %+v", again, res)
		}
		if got := queueAttrs(t, c.sqs, "herald-local-delivery")["VisibilityTimeout"]; got != "7" {
			t.Errorf("override on an existing queue: VisibilityTimeout got %q, want 7", got)
		}
		found, err := lookupResources(ctx, c, tmpl, r2, names)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(found, res) {
			t.Errorf("lookup: got %+v, want %+v", found, res)
		}
	})
}

type keyPair struct{ Name, Type string }

func keys(hash, rng string) []keyPair {
	return []keyPair{{hash, "HASH"}, {rng, "RANGE"}}
}

func keySchema(ks []ddbtypes.KeySchemaElement) []keyPair {
	var out []keyPair
	for _, k := range ks {
		out = append(out, keyPair{aws.ToString(k.AttributeName), string(k.KeyType)})
	}
	return out
}

func queueAttrs(t *testing.T, c *sqs.Client, name string) map[string]string {
	t.Helper()
	ctx := context.Background()
	u, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("queue %s: %v", name, err)
	}
	a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: u.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		t.Fatalf("queue %s attributes: %v", name, err)
	}
	return a.Attributes
}
