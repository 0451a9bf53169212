package localstack

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// QueueClient is the part of SQS the poller uses.
type QueueClient interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

var _ QueueClient = (*sqs.Client)(nil)

// Poller feeds a queue to a function as Lambda's SQS event source mapping
// does: it long-polls for a batch (filling it for up to the batching
// window), invokes the function with an SQS event, and deletes what
// succeeded. Messages it does not delete reappear after the queue's
// visibility timeout.
//
// Dead-lettering is the queue's own doing, and moto does it as SQS does
// (checked with moto 5.2.5, and by TestPollerPartialFailure): a message
// received maxReceiveCount times is moved to the RedrivePolicy's target on
// the next ReceiveMessage that would have returned it, so it is delivered
// exactly maxReceiveCount times. Its ApproximateReceiveCount carries on
// counting in the dead-letter queue.
//
// The poller never deletes from a batch whose invocation failed (a function
// error, a crash, a timeout). With ReportBatchItemFailures it deletes every
// message the function did not list in batchItemFailures, and treats a
// response it cannot read, or one naming a message not in the batch, as a
// failure of the whole batch, as Lambda does.
type Poller struct {
	SQS                     QueueClient
	Invoker                 Invoker
	QueueURL                string
	QueueARN                string
	Region                  string
	BatchSize               int           // 1 to 10 here; 10 if 0
	Window                  time.Duration // MaximumBatchingWindowInSeconds
	ReportBatchItemFailures bool
	Logger                  *slog.Logger // nil logs nothing
}

// longPoll is how long one ReceiveMessage waits for a first message, as the
// event source mapping does.
const longPoll = 20 // seconds

// Run polls until recvCtx ends. Its end stops a receive that is waiting,
// but a batch already received is still invoked and deleted under ctx:
// after Run returns, no invocation of the poller's is running.
func (p *Poller) Run(recvCtx, ctx context.Context) {
	for recvCtx.Err() == nil {
		if err := p.pollOnce(recvCtx, ctx); err != nil && recvCtx.Err() == nil {
			p.log().Warn("poll failed", "queue", p.QueueARN, "error", err)
			select {
			case <-recvCtx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// pollOnce receives one batch under recvCtx (waiting up to 20 s for it),
// then invokes the function and deletes what succeeded under ctx. An empty
// queue is no error.
func (p *Poller) pollOnce(recvCtx, ctx context.Context) error {
	msgs, err := p.receive(recvCtx)
	if err != nil || len(msgs) == 0 {
		return err
	}
	payload, err := json.Marshal(p.event(msgs))
	if err != nil {
		return fmt.Errorf("encode SQS event: %w", err)
	}
	answer, err := p.Invoker.Invoke(ctx, payload)
	if err != nil {
		p.log().Info("batch failed; its messages will be received again", "queue", p.QueueARN, "messages", len(msgs), "error", err)
		return nil
	}
	keep, err := p.failures(answer, msgs)
	if err != nil {
		p.log().Info("batch response unusable; its messages will be received again", "queue", p.QueueARN, "error", err)
		return nil
	}
	n := len(msgs)
	deleted, err := p.delete(ctx, slices.DeleteFunc(msgs, func(m types.Message) bool { return keep[aws.ToString(m.MessageId)] }))
	p.log().Debug("batch done", "queue", p.QueueARN, "messages", n, "deleted", deleted, "failed", len(keep))
	return err
}

func (p *Poller) log() *slog.Logger { return cmp.Or(p.Logger, slog.New(slog.DiscardHandler)) }

func (p *Poller) batchSize() int {
	if p.BatchSize <= 0 || p.BatchSize > 10 {
		return 10
	}
	return p.BatchSize
}

// receive waits for messages, then keeps receiving until the batch is full
// or the batching window has passed since the first arrived.
func (p *Poller) receive(ctx context.Context) ([]types.Message, error) {
	var batch []types.Message
	wait := int32(longPoll)
	var deadline time.Time
	for len(batch) < p.batchSize() {
		out, err := p.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(p.QueueURL),
			MaxNumberOfMessages:         int32(p.batchSize() - len(batch)), // #nosec G115 -- 1 to 10: batchSize is at most 10 and the loop runs while the batch is smaller
			WaitTimeSeconds:             wait,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			if len(batch) > 0 && ctx.Err() == nil {
				break // invoke with what there is
			}
			return batch, fmt.Errorf("receive from %s: %w", p.QueueURL, err)
		}
		if len(batch) == 0 {
			if len(out.Messages) == 0 {
				return nil, nil
			}
			deadline = time.Now().Add(p.Window)
		}
		batch = append(batch, out.Messages...)
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		wait = int32((left + time.Second - 1) / time.Second) // #nosec G115 -- at most Window in seconds (left <= Window), a few seconds
	}
	return batch, nil
}

// event builds the SQS event Lambda would send for the messages.
func (p *Poller) event(msgs []types.Message) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		rec := events.SQSMessage{
			MessageId:              aws.ToString(m.MessageId),
			ReceiptHandle:          aws.ToString(m.ReceiptHandle),
			Body:                   aws.ToString(m.Body),
			Md5OfBody:              aws.ToString(m.MD5OfBody),
			Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
			Attributes:             map[string]string{},
			MessageAttributes:      map[string]events.SQSMessageAttribute{},
			EventSource:            "aws:sqs",
			EventSourceARN:         p.QueueARN,
			AWSRegion:              p.Region,
		}
		maps.Copy(rec.Attributes, m.Attributes)
		for k, v := range m.MessageAttributes {
			rec.MessageAttributes[k] = events.SQSMessageAttribute{
				StringValue:      v.StringValue,
				BinaryValue:      v.BinaryValue,
				StringListValues: append([]string{}, v.StringListValues...),
				BinaryListValues: append([][]byte{}, v.BinaryListValues...),
				DataType:         aws.ToString(v.DataType),
			}
		}
		ev.Records = append(ev.Records, rec)
	}
	return ev
}

// failures reads the ids of the messages the function reported as failed.
// Without ReportBatchItemFailures a successful invocation succeeds for every
// message.
func (p *Poller) failures(answer []byte, msgs []types.Message) (map[string]bool, error) {
	failed := map[string]bool{}
	var res events.SQSEventResponse
	if !p.ReportBatchItemFailures || len(answer) == 0 {
		return failed, nil
	}
	if err := json.Unmarshal(answer, &res); err != nil {
		return nil, fmt.Errorf("read batchItemFailures: %w", err)
	}
	for _, f := range res.BatchItemFailures {
		id := f.ItemIdentifier
		if !slices.ContainsFunc(msgs, func(m types.Message) bool { return aws.ToString(m.MessageId) == id }) {
			return nil, fmt.Errorf("batchItemFailures names %q, which is not in the batch", id)
		}
		failed[id] = true
	}
	return failed, nil
}

// delete removes the messages from the queue, returning how many it deleted.
func (p *Poller) delete(ctx context.Context, msgs []types.Message) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	entries := make([]types.DeleteMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: m.MessageId, ReceiptHandle: m.ReceiptHandle}
	}
	out, err := p.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: entries})
	if err != nil {
		return 0, fmt.Errorf("delete %d messages from %s: %w", len(msgs), p.QueueURL, err)
	}
	var errs []error
	for _, f := range out.Failed {
		errs = append(errs, fmt.Errorf("delete message %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message)))
	}
	return len(out.Successful), errors.Join(errs...)
}
