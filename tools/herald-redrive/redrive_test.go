package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/heraldhq/herald/test/testenv"
)

// moto (5.2.5) has no StartMessageMoveTask or ListMessageMoveTasks, so the
// move itself is a recording stand-in over moto's real SQS; the stack, its
// outputs and the queues are moto's.
type moveTasks struct {
	*sqs.Client
	mu      sync.Mutex
	started []*sqs.StartMessageMoveTaskInput
	listed  int
	results [][]sqstypes.ListMessageMoveTasksResultEntry // one per ListMessageMoveTasks call
	err     error
}

func (m *moveTasks) StartMessageMoveTask(_ context.Context, in *sqs.StartMessageMoveTaskInput, _ ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.started = append(m.started, in)
	if m.err != nil {
		return nil, m.err
	}
	return &sqs.StartMessageMoveTaskOutput{TaskHandle: aws.String("handle-1")}, nil
}

func (m *moveTasks) ListMessageMoveTasks(_ context.Context, in *sqs.ListMessageMoveTasksInput, _ ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := min(m.listed, len(m.results)-1)
	m.listed++
	return &sqs.ListMessageMoveTasksOutput{Results: m.results[i]}, nil
}

func task(status string, moved int64, handle string) sqstypes.ListMessageMoveTasksResultEntry {
	e := sqstypes.ListMessageMoveTasksResultEntry{Status: aws.String(status), ApproximateNumberOfMessagesMoved: moved,
		ApproximateNumberOfMessagesToMove: aws.Int64(3)}
	if handle != "" {
		e.TaskHandle = aws.String(handle)
	}
	if status == "FAILED" {
		e.FailureReason = aws.String("AccessDenied")
	}
	return e
}

// herald stack in moto: a delivery queue, its DLQ with some messages,
// and the outputs of template.yaml that redrive reads.
const stackTemplate = `
Resources:
  DeliveryQueue: { Type: AWS::SQS::Queue, Properties: { QueueName: %[1]s-delivery } }
  DeliveryDLQ: { Type: AWS::SQS::Queue, Properties: { QueueName: %[1]s-dlq } }
Outputs:
  DeliveryQueueArn: { Value: !GetAtt DeliveryQueue.Arn }
  DeliveryDLQArn: { Value: !GetAtt DeliveryDLQ.Arn }
  DeliveryDLQUrl: { Value: !Ref DeliveryDLQ }
`

type motoStack struct {
	name, queueARN, dlqARN, dlqURL string
	cf                             *cloudformation.Client
	sqs                            *sqs.Client
}

func newMotoStack(t *testing.T, ctx context.Context, messages int) motoStack {
	t.Helper()
	cfg := testenv.AWSConfig(testenv.Moto(t).URL)
	s := motoStack{name: fmt.Sprintf("redrive-%d", time.Now().UnixNano()), cf: cloudformation.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg)}
	if _, err := s.cf.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String(s.name), TemplateBody: aws.String(fmt.Sprintf(stackTemplate, s.name)),
	}); err != nil {
		t.Fatal(err)
	}
	for name, dst := range map[string]*string{"-delivery": &s.queueARN, "-dlq": &s.dlqARN} {
		url, err := s.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(s.name + name)})
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url.QueueUrl,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatal(err)
		}
		*dst = a.Attributes["QueueArn"]
		if name == "-dlq" {
			s.dlqURL = aws.ToString(url.QueueUrl)
		}
	}
	for i := range messages {
		if _, err := s.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.dlqURL), MessageBody: aws.String(fmt.Sprintf(`{"job":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestRedrive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for name, tc := range map[string]struct {
		messages int
		rate     int
		wait     bool
		results  [][]sqstypes.ListMessageMoveTasksResultEntry
		startErr error
		wantErr  string
		wantOut  []string
		started  bool
	}{
		"moves and follows to the end": {
			messages: 3, rate: 50, wait: true, started: true,
			results: [][]sqstypes.ListMessageMoveTasksResultEntry{
				{task("RUNNING", 0, "handle-1")}, {task("RUNNING", 2, "handle-1")}, {task("COMPLETED", 3, "")},
			},
			wantOut: []string{"Moving about 3 message(s)", "task handle-1", "RUNNING: 0 moved of 3", "RUNNING: 2 moved of 3", "COMPLETED: 3 moved of 3"},
		},
		"without waiting": {messages: 1, started: true, wantOut: []string{"Moving about 1 message(s)"}},
		"an empty DLQ":    {messages: 0, wait: true, wantOut: []string{"is empty; nothing to move"}},
		"a failed move": {
			messages: 2, wait: true, started: true,
			results: [][]sqstypes.ListMessageMoveTasksResultEntry{{task("FAILED", 1, "")}},
			wantErr: "ended FAILED: AccessDenied",
		},
		"a move already running": {
			messages: 2, wait: true, started: true, startErr: errors.New("UnsupportedOperation: there is a running task"),
			wantErr: "start moving",
		},
	} {
		s := newMotoStack(t, ctx, tc.messages)
		moves := &moveTasks{Client: s.sqs, results: tc.results, err: tc.startErr}
		var out bytes.Buffer
		r := redriver{cf: s.cf, sqs: moves, out: &out, poll: time.Millisecond}
		err := r.redrive(ctx, s.name, "retries", tc.rate, tc.wait)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: got error %v, want %q", name, err, tc.wantErr)
		}
		for _, w := range tc.wantOut {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: output lacks %q:\n%s", name, w, out.String())
			}
		}
		if got := len(moves.started) > 0; got != tc.started {
			t.Errorf("%s: started a move %v, want %v", name, got, tc.started)
			continue
		}
		if !tc.started {
			continue
		}
		in := moves.started[0]
		if aws.ToString(in.SourceArn) != s.dlqARN || aws.ToString(in.DestinationArn) != s.queueARN {
			t.Errorf("%s: moved %s to %s, want the stack's DLQ %s to its queue %s", name,
				aws.ToString(in.SourceArn), aws.ToString(in.DestinationArn), s.dlqARN, s.queueARN)
		}
		var wantRate *int32
		if tc.rate > 0 {
			wantRate = aws.Int32(int32(tc.rate))
		}
		if aws.ToInt32(in.MaxNumberOfMessagesPerSecond) != aws.ToInt32(wantRate) || (in.MaxNumberOfMessagesPerSecond == nil) != (wantRate == nil) {
			t.Errorf("%s: rate %v, want %v", name, in.MaxNumberOfMessagesPerSecond, wantRate)
		}
	}
}

func TestRedriveErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := newMotoStack(t, ctx, 0)
	r := redriver{cf: s.cf, sqs: &moveTasks{Client: s.sqs}, out: &bytes.Buffer{}, poll: time.Millisecond}
	if err := r.redrive(ctx, "no-such-stack", "retries", 0, false); err == nil || !strings.Contains(err.Error(), "describe stack no-such-stack") {
		t.Errorf("an unknown stack: got %v", err)
	}
	for name, args := range map[string][]string{
		"no -stack":     nil,
		"rate too high": {"-stack", "x", "-rate", "501"},
		"stray":         {"-stack", "x", "extra"},
		"unknown queue": {"-stack", "x", "-queue", "all"},
	} {
		if err := run(ctx, args, &bytes.Buffer{}, &bytes.Buffer{}); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s: got %v, want the usage", name, err)
		}
	}
}
