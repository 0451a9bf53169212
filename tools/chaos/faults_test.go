package chaos

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/heraldhq/herald/test/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// TestFaultProxy checks that the SDK reads each injected fault as AWS's
// own, over both protocols, and that an ambiguous fault applies the write.
func TestFaultProxy(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	tests := map[string]struct {
		faults    AWSFaults
		dynamo    string // the error code DynamoDB callers get; "" for none
		sqs       string
		itemAfter bool // the PutItem was applied
	}{
		"throttle":  {AWSFaults{Throttle: 1}, "ProvisionedThroughputExceededException", "ThrottlingException", false},
		"internal":  {AWSFaults{Internal: 1}, "InternalServerError", "InternalFailure", false},
		"ambiguous": {AWSFaults{Ambiguous: 1}, "InternalServerError", "InternalFailure", true},
		"slow":      {AWSFaults{Slow: 1, SlowMax: 50 * time.Millisecond}, "", "", true},
		"none":      {AWSFaults{}, "", "", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := StartFaultProxy(env.Moto.URL, tc.faults, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			cfg := testenv.AWSConfig(p.URL)
			cfg.RetryMaxAttempts = 1
			db, q := dynamodb.NewFromConfig(cfg), sqs.NewFromConfig(cfg)

			key := "P#proxy-" + name
			_, err = db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(env.Table), Item: map[string]types.AttributeValue{
				"PK": &types.AttributeValueMemberS{Value: key}, "SK": &types.AttributeValueMemberS{Value: "x"}}})
			if got := errorCode(err); got != tc.dynamo {
				t.Errorf("DynamoDB error code: got %q (%v), want %q", got, err, tc.dynamo)
			}
			_, err = q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(env.QueueURL), MessageBody: aws.String("{}")})
			if got := errorCode(err); got != tc.sqs {
				t.Errorf("SQS error code: got %q (%v), want %q", got, err, tc.sqs)
			}
			got, err := env.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(env.Table), Key: map[string]types.AttributeValue{
				"PK": &types.AttributeValueMemberS{Value: key}, "SK": &types.AttributeValueMemberS{Value: "x"}}})
			if err != nil {
				t.Fatal(err)
			}
			if applied := got.Item != nil; applied != tc.itemAfter {
				t.Errorf("PutItem applied: got %v, want %v", applied, tc.itemAfter)
			}
			if n := sum(p.Counts()); (name == "none") != (n == 0) {
				t.Errorf("faults counted: %v", p.Counts())
			}
		})
	}
}

func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	if err != nil {
		return "not an API error: " + err.Error()
	}
	return ""
}
