package deploy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/heraldhq/herald/test/testenv"
)

// A stack in moto's CloudFormation with the outputs the ops tools read.
const outputsStack = `
Resources:
  Queue: { Type: AWS::SQS::Queue, Properties: { QueueName: %[1]s-q } }
  DLQ: { Type: AWS::SQS::Queue, Properties: { QueueName: %[1]s-dlq } }
Outputs:
  DeliveryQueueArn: { Value: !GetAtt Queue.Arn }
  DeliveryDLQArn: { Value: !GetAtt DLQ.Arn }
`

func TestStackOutputs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cf := cloudformation.NewFromConfig(testenv.AWSConfig(testenv.Moto(t).URL))
	name := fmt.Sprintf("outputs-%d", time.Now().UnixNano())
	if _, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String(name), TemplateBody: aws.String(fmt.Sprintf(outputsStack, name)),
	}); err != nil {
		t.Fatal(err)
	}

	got, err := StackOutputs(ctx, cf, name, "DeliveryQueueArn", "DeliveryDLQArn")
	if err != nil {
		t.Fatal(err)
	}
	for key, suffix := range map[string]string{"DeliveryQueueArn": ":" + name + "-q", "DeliveryDLQArn": ":" + name + "-dlq"} {
		if !strings.HasPrefix(got[key], "arn:aws:sqs:") || !strings.HasSuffix(got[key], suffix) {
			t.Errorf("%s: got %q, want an SQS ARN ending %s", key, got[key], suffix)
		}
	}

	for what, tc := range map[string]struct {
		stack, key, wantErr string
	}{
		"missing output": {name, "TableName", "has no TableName output"},
		"missing stack":  {"no-such-stack", "DeliveryQueueArn", "describe stack no-such-stack"},
	} {
		if _, err := StackOutputs(ctx, cf, tc.stack, tc.key); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: got %v, want an error containing %q", what, err, tc.wantErr)
		}
	}
}
