package chaos

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
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

// TestReceiver checks each way a receiver fails, and that FailFirst lets
// later requests of a call through.
func TestReceiver(t *testing.T) {
	tests := map[string]struct {
		faults  ReceiverFaults
		status  int    // 0: the request fails
		errText string // in the client's error
		answer  string
	}{
		"fail":    {ReceiverFaults{Fail: 1}, 500, "", AnsweredFail},
		"timeout": {ReceiverFaults{Timeout: 1}, 0, "Client.Timeout", AnsweredTimeout},
		"reset":   {ReceiverFaults{Reset: 1}, 0, "", AnsweredReset},
		"ok":      {ReceiverFaults{}, 200, "", AnsweredOK},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.faults.FailFirst = 1
			r, err := StartReceiver("r", tc.faults, 2*time.Second, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			client := &http.Client{Timeout: 300 * time.Millisecond}
			send := func() (int, error) {
				req, _ := http.NewRequest("POST", r.URL, strings.NewReader("{}"))
				req.Header.Set("webhook-id", "call-1")
				res, err := client.Do(req)
				if err != nil {
					return 0, err
				}
				res.Body.Close()
				return res.StatusCode, nil
			}
			status, err := send()
			if status != tc.status || (tc.status == 0 && err == nil) || (tc.errText != "" && !strings.Contains(err.Error(), tc.errText)) {
				t.Errorf("first request: got %d %v, want %d %q", status, err, tc.status, tc.errText)
			}
			if status, err := send(); status != 200 {
				t.Errorf("second request of the call: got %d %v, want 200", status, err)
			}
			log := r.Log()
			if len(log) != 2 || log[0].WebhookID != "call-1" || log[0].Answer != tc.answer || log[1].Answer != AnsweredOK {
				t.Errorf("log: got %+v, want %s then 200 for call-1", log, tc.answer)
			}
		})
	}
}
