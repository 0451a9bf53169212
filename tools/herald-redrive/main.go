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
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/tools/command"
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
