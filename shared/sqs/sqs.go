// Package sqs puts delivery jobs on Herald's SQS queues: first attempts on
// the first-attempt queue (FIFO), retries and resends on the delivery queue
// (standard, with delays).
package sqs

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/heraldhq/herald/shared/herald"
)

// Client is the part of the SQS API the queue uses.
type Client interface {
	SendMessage(ctx context.Context, in *awssqs.SendMessageInput, opts ...func(*awssqs.Options)) (*awssqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *awssqs.SendMessageBatchInput, opts ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error)
}

var _ Client = (*awssqs.Client)(nil)

// MaxDelay is the longest delay SQS gives one message.
const MaxDelay = 15 * time.Minute

// batchSize is SQS's limit on a SendMessageBatch.
const batchSize = 10

// sendRounds bounds how often entries that a batch reported failed are sent
// again before giving up.
const sendRounds = 4

// Queue is one of Herald's queues.
type Queue struct {
	client Client
	url    string
	fifo   bool
}

// New returns the queue at url. A FIFO queue (its name ends in .fifo) is the
// first-attempt queue: each job is its own message group, so one slow call
// never holds up another, and is deduplicated by its call id, so a send the
// SDK repeats after a lost answer, or a job queued again within five minutes,
// is one message.
func New(client Client, url string) *Queue {
	return &Queue{client: client, url: url, fifo: strings.HasSuffix(url, ".fifo")}
}

// Send puts one job on the queue, to be received no earlier than delay from
// now (at most MaxDelay).
func (q *Queue) Send(ctx context.Context, job herald.Job, delay time.Duration) error {
	body, err := herald.EncodeJob(job)
	if err != nil {
		return err
	}
	_, err = q.client.SendMessage(ctx, &awssqs.SendMessageInput{
		QueueUrl:          aws.String(q.url),
		MessageBody:       aws.String(string(body)),
		DelaySeconds:      delaySeconds(delay),
		MessageAttributes: attributes(job),
	})
	if err != nil {
		return fmt.Errorf("send job for call %s: %w", job.CallID, err)
	}
	return nil
}

// SendAll puts jobs on the queue ten per request. Entries a batch reports as
// failed are sent again, a few rounds; it returns an error if any job is
// still not on the queue, so the caller never reports a job enqueued that is
// not.
func (q *Queue) SendAll(ctx context.Context, jobs []herald.Job) error {
	delayed := make([]herald.DelayedJob, len(jobs))
	for i, job := range jobs {
		delayed[i] = herald.DelayedJob{Job: job}
	}
	return q.SendDelayed(ctx, delayed)
}

// SendDelayed is SendAll for jobs that each wait their own delay (at most
// MaxDelay) before they can be received.
func (q *Queue) SendDelayed(ctx context.Context, jobs []herald.DelayedJob) error {
	for start := 0; start < len(jobs); start += batchSize {
		if err := q.sendBatch(ctx, jobs[start:min(start+batchSize, len(jobs))]); err != nil {
			return err
		}
	}
	return nil
}

func (q *Queue) sendBatch(ctx context.Context, jobs []herald.DelayedJob) error {
	pending := make(map[string]types.SendMessageBatchRequestEntry, len(jobs))
	for i, dj := range jobs {
		body, err := herald.EncodeJob(dj.Job)
		if err != nil {
			return err
		}
		id := strconv.Itoa(i)
		entry := types.SendMessageBatchRequestEntry{
			Id:                aws.String(id),
			MessageBody:       aws.String(string(body)),
			MessageAttributes: attributes(dj.Job),
		}
		if q.fifo {
			entry.MessageGroupId = aws.String(dj.Job.CallID)
			entry.MessageDeduplicationId = aws.String(dj.Job.CallID)
		} else {
			entry.DelaySeconds = delaySeconds(dj.Delay)
		}
		pending[id] = entry
	}
	var lastErr error
	for round := 0; round < sendRounds && len(pending) > 0; round++ {
		if round > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("send jobs: %w", ctx.Err())
			case <-time.After(time.Duration(50<<round) * time.Millisecond):
			}
		}
		entries := make([]types.SendMessageBatchRequestEntry, 0, len(pending))
		for _, e := range pending {
			entries = append(entries, e)
		}
		out, err := q.client.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(q.url), Entries: entries})
		if err != nil {
			lastErr = err
			continue
		}
		for _, ok := range out.Successful {
			delete(pending, aws.ToString(ok.Id))
		}
		for _, f := range out.Failed {
			lastErr = fmt.Errorf("entry %s: %s", aws.ToString(f.Id), aws.ToString(f.Code))
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("send %d of %d jobs: %w", len(pending), len(jobs), lastErr)
	}
	return nil
}

// attributes make a job's project and call visible on the message without
// parsing its body: for the console, for tooling and for tests.
func attributes(job herald.Job) map[string]types.MessageAttributeValue {
	str := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return map[string]types.MessageAttributeValue{
		"project": str(job.ProjectID),
		"call_id": str(job.CallID),
		"trigger": str(job.Trigger),
	}
}

func delaySeconds(d time.Duration) int32 {
	switch {
	case d <= 0:
		return 0
	case d >= MaxDelay:
		return int32(MaxDelay / time.Second)
	default:
		return int32((d + time.Second - 1) / time.Second)
	}
}
