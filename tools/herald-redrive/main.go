// Command herald-redrive moves the messages of one of a deployed stack's
// dead-letter queues back to its queue (SQS StartMessageMoveTask), once
// whatever made them fail is fixed. That is safe because delivery jobs are
// idempotent: a job whose attempt was already made finds it done, and a
// first-attempt job received before claims its attempt.
//
//	herald-redrive -stack NAME [-queue retries|first] [-rate N] [-wait=false]
//
// It reads the queues from the stack's outputs (DeliveryDLQArn,
// DeliveryQueueArn, DeliveryDLQUrl; FirstAttemptDLQArn, FirstAttemptQueueArn,
// FirstAttemptDLQUrl), with the usual AWS credentials and region.
// `make redrive STACK=NAME [QUEUE=first]` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/tools/command"
	"github.com/heraldhq/herald/tools/deploy"
)

func main() { command.Main("herald-redrive", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("herald-redrive", flag.ContinueOnError)
	stack := fs.String("stack", "", "the deployed stack (required)")
	rate := fs.Int("rate", 0, "most messages moved per second (1-500); 0 lets SQS choose")
	queue := fs.String("queue", "retries", "which dead-letter queue: retries (retries and resends) or first (first attempts)")
	wait := fs.Bool("wait", true, "follow the move until it ends (Ctrl-C stops following, not the move)")
	valid := func() bool { return *stack != "" && *rate >= 0 && *rate <= 500 && queuePairs[*queue] != (queuePair{}) }
	if err := command.Parse(fs, args, stderr, valid); err != nil {
		return err
	}
	cfg, err := config.AWS(ctx)
	if err != nil {
		return err
	}
	r := redriver{cf: cloudformation.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg), out: stdout, poll: 5 * time.Second}
	return r.redrive(ctx, *stack, *queue, *rate, *wait)
}

// queueAPI is the part of SQS a redrive uses.
type queueAPI interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	StartMessageMoveTask(ctx context.Context, in *sqs.StartMessageMoveTaskInput, opts ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error)
	ListMessageMoveTasks(ctx context.Context, in *sqs.ListMessageMoveTasksInput, opts ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error)
}

var _ queueAPI = (*sqs.Client)(nil)

// redriver moves a stack's dead-letter messages back to the delivery queue.
type redriver struct {
	cf   deploy.DescribeStacksAPI
	sqs  queueAPI
	out  io.Writer
	poll time.Duration // between looks at a running move
}

// queuePair names, by stack output, a dead-letter queue and the queue its
// messages go back to.
type queuePair struct{ dlqARN, dlqURL, target string }

// queuePairs are Herald's two: retries and resends, and first attempts.
var queuePairs = map[string]queuePair{
	"retries": {"DeliveryDLQArn", "DeliveryDLQUrl", "DeliveryQueueArn"},
	"first":   {"FirstAttemptDLQArn", "FirstAttemptDLQUrl", "FirstAttemptQueueArn"},
}

// redrive starts a move task from one of the stack's DLQs (queue names it:
// queuePairs) back to its queue, at most rate messages a second (0: SQS's
// choice), and, with wait, reports its progress until it ends.
func (r redriver) redrive(ctx context.Context, stack, queue string, rate int, wait bool) error {
	pair, ok := queuePairs[queue]
	if !ok {
		return fmt.Errorf("no queue %q: retries or first", queue)
	}
	q, err := deploy.StackOutputs(ctx, r.cf, stack, pair.dlqARN, pair.dlqURL, pair.target)
	if err != nil {
		return err
	}
	dlq, target := q[pair.dlqARN], q[pair.target]
	attrs, err := r.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(q[pair.dlqURL]),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		return fmt.Errorf("count the messages in %s: %w", dlq, err)
	}
	waiting := attrs.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)]
	if n, err := strconv.Atoi(waiting); err == nil && n == 0 {
		fmt.Fprintf(r.out, "The dead-letter queue %s is empty; nothing to move.\n", dlq)
		return nil
	}
	in := &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(dlq), DestinationArn: aws.String(target)}
	if rate > 0 {
		in.MaxNumberOfMessagesPerSecond = aws.Int32(int32(rate)) // #nosec G115 -- checked to be 1-500 by the caller
	}
	started, err := r.sqs.StartMessageMoveTask(ctx, in)
	if err != nil {
		return fmt.Errorf("start moving %s to %s: %w", dlq, target, err)
	}
	handle := aws.ToString(started.TaskHandle)
	fmt.Fprintf(r.out, "Moving about %s message(s) from %s back to %s (task %s).\n", waiting, dlq, target, handle)
	if !wait {
		return nil
	}
	last := ""
	for {
		list, err := r.sqs.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(dlq), MaxResults: aws.Int32(10)})
		if err != nil {
			return fmt.Errorf("follow the move of %s: %w", dlq, err)
		}
		// SQS names only the running task by its handle; the most recent
		// entry (the first) is ours once it has ended.
		i := max(0, slices.IndexFunc(list.Results, func(t sqstypes.ListMessageMoveTasksResultEntry) bool { return aws.ToString(t.TaskHandle) == handle }))
		if len(list.Results) > 0 {
			task := list.Results[i]
			status := aws.ToString(task.Status)
			line := fmt.Sprintf("%s: %d moved", status, task.ApproximateNumberOfMessagesMoved)
			if task.ApproximateNumberOfMessagesToMove != nil {
				line += fmt.Sprintf(" of %d", *task.ApproximateNumberOfMessagesToMove)
			}
			if line != last {
				fmt.Fprintln(r.out, line)
				last = line
			}
			switch status {
			case "COMPLETED":
				return nil
			case "FAILED", "CANCELLED":
				return fmt.Errorf("the move of %s ended %s: %s", dlq, status, aws.ToString(task.FailureReason))
			}
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(r.out, "Stopped following; the move goes on (aws sqs list-message-move-tasks --source-arn %s).\n", dlq)
			return ctx.Err()
		case <-time.After(r.poll):
		}
	}
}
