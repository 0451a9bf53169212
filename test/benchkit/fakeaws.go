package benchkit

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/sqs"
)

var (
	_ dynamo.Client = (*Dynamo)(nil)
	_ sqs.Client    = (*SQS)(nil)
)

// Dynamo keeps the items written to it by primary key and returns them to
// reads. UpdateItem changes nothing and returns the item as stored (for
// ReturnValues ALL_NEW), so that a benchmark can claim the same call on
// every iteration.
type Dynamo struct {
	mu    sync.Mutex
	items map[string]map[string]types.AttributeValue
}

// NewDynamo returns an empty Dynamo.
func NewDynamo() *Dynamo { return &Dynamo{items: map[string]map[string]types.AttributeValue{}} }

func itemKey(item map[string]types.AttributeValue) string {
	pk, _ := item["PK"].(*types.AttributeValueMemberS)
	sk, _ := item["SK"].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return ""
	}
	return pk.Value + "\x00" + sk.Value
}

func (d *Dynamo) put(item map[string]types.AttributeValue) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.items[itemKey(item)] = item
}

func (d *Dynamo) get(key map[string]types.AttributeValue) map[string]types.AttributeValue {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.items[itemKey(key)]
}

func (d *Dynamo) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: d.get(in.Key)}, nil
}

func (d *Dynamo) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}}
	for table, ka := range in.RequestItems {
		for _, k := range ka.Keys {
			if item := d.get(k); item != nil {
				out.Responses[table] = append(out.Responses[table], item)
			}
		}
	}
	return out, nil
}

func (d *Dynamo) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	d.put(in.Item)
	return &dynamodb.PutItemOutput{}, nil
}

func (d *Dynamo) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out := &dynamodb.UpdateItemOutput{}
	if in.ReturnValues == types.ReturnValueAllNew {
		out.Attributes = d.get(in.Key)
	}
	return out, nil
}

func (d *Dynamo) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.items, itemKey(in.Key))
	return &dynamodb.DeleteItemOutput{}, nil
}

// Query is not served: no benchmark reads through it (ingest's webhook list
// is cached). It fails loudly rather than return a wrong answer.
func (d *Dynamo) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return nil, fmt.Errorf("benchkit.Dynamo does not serve Query (%s)", aws.ToString(in.KeyConditionExpression))
}

func (d *Dynamo) BatchWriteItem(_ context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	for _, reqs := range in.RequestItems {
		for _, r := range reqs {
			if r.PutRequest != nil {
				d.put(r.PutRequest.Item)
			}
		}
	}
	return &dynamodb.BatchWriteItemOutput{}, nil
}

func (d *Dynamo) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		if it.Put != nil {
			d.put(it.Put.Item)
		}
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// SQS accepts every message and keeps none: a benchmark counts on the
// queue adapter's own work (encoding, batching), not on the queue.
type SQS struct {
	mu   sync.Mutex
	sent int
}

// Sent returns the number of messages accepted.
func (q *SQS) Sent() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.sent
}

func (q *SQS) SendMessage(_ context.Context, in *awssqs.SendMessageInput, _ ...func(*awssqs.Options)) (*awssqs.SendMessageOutput, error) {
	q.mu.Lock()
	q.sent++
	q.mu.Unlock()
	return &awssqs.SendMessageOutput{MessageId: aws.String("m")}, nil
}

func (q *SQS) SendMessageBatch(_ context.Context, in *awssqs.SendMessageBatchInput, _ ...func(*awssqs.Options)) (*awssqs.SendMessageBatchOutput, error) {
	out := &awssqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id, MessageId: e.Id})
	}
	q.mu.Lock()
	q.sent += len(in.Entries)
	q.mu.Unlock()
	return out, nil
}
