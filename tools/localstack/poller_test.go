package localstack

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// deliveryStack runs the test function as DeliveryFunction on one instance
// (so one poller loop), with the delivery queue's visibility timeout cut to
// a second so that redeliveries come quickly.
func deliveryStack(t *testing.T, sweep time.Duration) (*Stack, string) {
	t.Helper()
	record := filepath.Join(t.TempDir(), "record.jsonl")
	s := startStack(t, Options{
		Functions:       []string{DeliveryFunction},
		PoolSizes:       map[string]int{DeliveryFunction: 1},
		QueueAttributes: map[string]map[string]string{"DeliveryQueue": {"VisibilityTimeout": "1"}},
		ExtraEnv:        map[string]string{"TESTFN_RECORD": record},
		SweepInterval:   sweep,
	})
	return s, record
}

// send puts messages with the given modes on the delivery queue in one
// batch and returns their ids.
func send(t *testing.T, s *Stack, modes ...string) []string {
	t.Helper()
	var entries []sqstypes.SendMessageBatchRequestEntry
	for i, mode := range modes {
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{
			Id:          aws.String(strconv.Itoa(i)),
			MessageBody: aws.String(fmt.Sprintf(`{"mode":%q,"n":%d}`, mode, i)),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{
				"kind": {DataType: aws.String("String"), StringValue: aws.String("test")},
			},
		})
	}
	ids := make([]string, len(modes))
	for start := 0; start < len(entries); start += 10 {
		out, err := s.SQS().SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{
			QueueUrl: aws.String(s.Resources.Queues["DeliveryQueue"].URL),
			Entries:  entries[start:min(start+10, len(entries))],
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Failed) > 0 {
			t.Fatalf("send: %+v", out.Failed)
		}
		for _, ok := range out.Successful {
			i, _ := strconv.Atoi(aws.ToString(ok.Id))
			ids[i] = aws.ToString(ok.MessageId)
		}
	}
	return ids
}

// deliveries reads the SQS events the test function received: per message
// id, its receive counts in order, and the batches as lists of ids.
func deliveries(t *testing.T, record string) (receives map[string][]string, batches [][]string, sweeps int) {
	t.Helper()
	receives = map[string][]string{}
	for _, r := range readRecord(t, record) {
		var ev events.SQSEvent
		if err := json.Unmarshal(r.Input, &ev); err != nil || len(ev.Records) == 0 {
			if string(r.Input) == `{"herald":"sweep"}` {
				sweeps++
			}
			continue
		}
		var batch []string
		for _, m := range ev.Records {
			receives[m.MessageId] = append(receives[m.MessageId], m.Attributes["ApproximateReceiveCount"])
			batch = append(batch, m.MessageId)
		}
		batches = append(batches, batch)
	}
	return receives, batches, sweeps
}

func queueCounts(t *testing.T, s *Stack, logicalID string) int {
	t.Helper()
	c, err := CountMessages(context.Background(), s.SQS(), s.Resources.Queues[logicalID].URL)
	if err != nil {
		t.Fatal(err)
	}
	return c.Total()
}

// TestPollerPartialFailure: with ReportBatchItemFailures, the successes of a
// batch are deleted and the reported failure comes back until, after
// maxReceiveCount (5) receives, SQS moves it to the dead-letter queue.
func TestPollerPartialFailure(t *testing.T) {
	t.Parallel()
	s, record := deliveryStack(t, 0)
	ids := send(t, s, "ok", "ok", "fail")
	eventually(t, 45*time.Second, "the failing message reaches the DLQ", func() bool {
		return queueCounts(t, s, "DeliveryDLQ") == 1
	})
	receives, batches, _ := deliveries(t, record)
	for _, id := range ids[:2] {
		if got := receives[id]; !reflect.DeepEqual(got, []string{"1"}) {
			t.Errorf("succeeded message %s: receive counts %v, want [1] (deleted after the first batch)", id, got)
		}
	}
	if got, want := receives[ids[2]], []string{"1", "2", "3", "4", "5"}; !reflect.DeepEqual(got, want) {
		t.Errorf("failing message: receive counts %v, want %v", got, want)
	}
	if !sameBatch(batches, ids...) {
		t.Errorf("the three messages were not delivered in one batch: %v", batches)
	}
	if n := queueCounts(t, s, "DeliveryQueue"); n != 0 {
		t.Errorf("delivery queue holds %d messages, want 0", n)
	}
	out, err := s.SQS().ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(s.Resources.Queues["DeliveryDLQ"].URL), MaxNumberOfMessages: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 || aws.ToString(out.Messages[0].MessageId) != ids[2] {
		t.Errorf("DLQ holds %+v, want the failing message %s", out.Messages, ids[2])
	}
}

// TestPollerFailedInvocation: a function error or a crash fails the whole
// batch, so every message of it comes back, successes included.
func TestPollerFailedInvocation(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"crash-once", "error-once"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			s, record := deliveryStack(t, 0)
			ids := send(t, s, "ok", mode)
			eventually(t, 30*time.Second, "both messages delivered twice and the queue empty", func() bool {
				receives, _, _ := deliveries(t, record)
				return len(receives[ids[0]]) >= 2 && len(receives[ids[1]]) >= 2 && queueCounts(t, s, "DeliveryQueue") == 0
			})
			receives, batches, _ := deliveries(t, record)
			for _, id := range ids {
				if got := receives[id]; !reflect.DeepEqual(got, []string{"1", "2"}) {
					t.Errorf("message %s: receive counts %v, want [1 2]", id, got)
				}
			}
			if !sameBatch(batches[:1], ids...) {
				t.Errorf("first batch %v, want both messages", batches[:1])
			}
			inits := s.Pool(DeliveryFunction).Instances()[0].Inits()
			if want := map[string]int{"crash-once": 2, "error-once": 1}[mode]; inits != want {
				t.Errorf("function inits: got %d, want %d", inits, want)
			}
			if n := queueCounts(t, s, "DeliveryDLQ"); n != 0 {
				t.Errorf("DLQ holds %d messages, want 0", n)
			}
		})
	}
}

// TestStopPolling: stopping lets the batch in hand finish (its message is
// deleted) and then receives nothing more; what is sent after stays queued.
func TestStopPolling(t *testing.T) {
	t.Parallel()
	s, record := deliveryStack(t, 0)
	send(t, s, "slow")
	eventually(t, 30*time.Second, "the slow message is being handled", func() bool {
		return len(readRecord(t, record)) == 1
	})
	s.StopPolling()
	if n := queueCounts(t, s, "DeliveryQueue"); n != 0 {
		t.Errorf("after StopPolling the queue holds %d messages; want 0 (the batch in hand finished and was deleted)", n)
	}
	send(t, s, "ok")
	time.Sleep(3 * time.Second)
	if n := len(readRecord(t, record)); n != 1 {
		t.Errorf("the function was invoked %d times; want 1 (nothing after StopPolling)", n)
	}
	if n := queueCounts(t, s, "DeliveryQueue"); n != 1 {
		t.Errorf("the queue holds %d messages; want the 1 sent after StopPolling", n)
	}
	s.StopPolling() // a second call is harmless
}

// TestPollerEvent checks the SQS event the function gets, that batches hold
// at most 10 messages, and that the sweep schedule invokes the function
// with the template's input.
func TestPollerEvent(t *testing.T) {
	t.Parallel()
	s, record := deliveryStack(t, 300*time.Millisecond)
	modes := make([]string, 15)
	for i := range modes {
		modes[i] = "ok"
	}
	ids := send(t, s, modes...)
	eventually(t, 30*time.Second, "all 15 messages delivered and a sweep run", func() bool {
		receives, _, sweeps := deliveries(t, record)
		return len(receives) == 15 && sweeps > 0
	})
	receives, batches, _ := deliveries(t, record)
	for _, id := range ids {
		if got := receives[id]; !reflect.DeepEqual(got, []string{"1"}) {
			t.Errorf("message %s: receive counts %v, want [1]", id, got)
		}
	}
	for _, b := range batches {
		if len(b) > 10 {
			t.Errorf("a batch of %d messages; the template's BatchSize is 10", len(b))
		}
	}
	eventually(t, 10*time.Second, "the queue empties", func() bool { return queueCounts(t, s, "DeliveryQueue") == 0 })

	var ev events.SQSEvent
	for _, r := range readRecord(t, record) {
		if json.Unmarshal(r.Input, &ev) == nil && len(ev.Records) > 0 {
			break
		}
	}
	m := ev.Records[0]
	q := s.Resources.Queues["DeliveryQueue"]
	sum := md5.Sum([]byte(m.Body))
	if m.EventSource != "aws:sqs" || m.EventSourceARN != q.ARN || m.AWSRegion != "us-east-1" {
		t.Errorf("source: got %q %q %q, want aws:sqs %q us-east-1", m.EventSource, m.EventSourceARN, m.AWSRegion, q.ARN)
	}
	if m.Md5OfBody != hex.EncodeToString(sum[:]) || m.ReceiptHandle == "" || m.MessageId == "" {
		t.Errorf("message: got md5 %q receipt %q id %q", m.Md5OfBody, m.ReceiptHandle, m.MessageId)
	}
	for _, a := range []string{"ApproximateReceiveCount", "SentTimestamp", "ApproximateFirstReceiveTimestamp", "SenderId"} {
		if m.Attributes[a] == "" {
			t.Errorf("attribute %s missing: %v", a, m.Attributes)
		}
	}
	want := events.SQSMessageAttribute{StringValue: aws.String("test"), DataType: "String", StringListValues: []string{}, BinaryListValues: [][]byte{}}
	if got := m.MessageAttributes["kind"]; !reflect.DeepEqual(got, want) {
		t.Errorf("message attribute: got %+v, want %+v", got, want)
	}
}

// sameBatch reports whether one of the batches holds all the ids.
func sameBatch(batches [][]string, ids ...string) bool {
	for _, b := range batches {
		in := map[string]bool{}
		for _, id := range b {
			in[id] = true
		}
		all := true
		for _, id := range ids {
			all = all && in[id]
		}
		if all {
			return true
		}
	}
	return false
}
