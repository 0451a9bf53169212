package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/heraldhq/herald/shared/config"
)

// motoAccount is the account id moto serves by default.
const motoAccount = "123456789012"

// Table and Queue are local resources created from the template.
type Table struct {
	LogicalID, Name, ARN string
}

// Queue is a local SQS queue created from the template.
type Queue struct {
	LogicalID, Name, URL, ARN string
}

// Resources are the tables and queues of the local stack, by logical id.
type Resources struct {
	Tables map[string]Table
	Queues map[string]Queue
}

// clients are SDK clients pointed at moto.
type clients struct {
	dynamo *dynamodb.Client
	sqs    *sqs.Client
}

// newClients builds SDK clients for moto at endpoint. It sets the endpoint,
// region and credentials explicitly rather than loading the shared AWS
// configuration, so that a developer's AWS profile never leaks into the
// local stack.
func newClients(endpoint, region, keyID, secret string) clients {
	cfg := aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, ""),
	}
	config.Tune(&cfg)
	return clients{
		dynamo: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) }),
		sqs:    sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) }),
	}
}

// localNames gives each table and queue of the template its local name. A
// resource that a function's environment variable is a !Ref of is named by
// that variable's value in the env file (TABLE_NAME names the table,
// DELIVERY_QUEUE_URL's last path segment the queue); a queue that is only
// another queue's dead-letter target is named after it with "-dlq"; any
// other resource is named prefix-kebab-case-logical-id.
func localNames(t *Template, env EnvFile, prefix string) (map[string]string, error) {
	names := map[string]string{}
	for _, fn := range t.LogicalIDs(typeFunction) {
		values := env.For(fn)
		for variable, id := range t.envBindings(fn) {
			v, ok := values[variable]
			if !ok {
				continue
			}
			var name string
			switch t.Resources[id].Type {
			case typeTable:
				name = v
			case typeQueue:
				u, err := url.Parse(v)
				if err != nil || path.Base(u.Path) == "/" || path.Base(u.Path) == "." {
					return nil, fmt.Errorf("env file: %s=%q is not a queue URL", variable, v)
				}
				name = path.Base(u.Path)
			default:
				continue
			}
			if prev, ok := names[id]; ok && prev != name {
				return nil, fmt.Errorf("env file names %s both %q and %q", id, prev, name)
			}
			names[id] = name
		}
	}
	for _, typ := range []string{typeTable, typeQueue} {
		for _, id := range t.LogicalIDs(typ) {
			if _, ok := names[id]; ok {
				continue
			}
			prop := "TableName"
			if typ == typeQueue {
				prop = "QueueName"
			}
			if n, ok := t.Resources[id].Properties[prop].(string); ok {
				names[id] = n
				continue
			}
			names[id] = prefix + "-" + kebab(id)
		}
	}
	// Dead-letter queues follow their source queue's name.
	for _, id := range t.LogicalIDs(typeQueue) {
		for _, dlq := range references(t.Resources[id].Properties["RedrivePolicy"]) {
			if t.Resources[dlq].Type != typeQueue || boundByEnv(t, dlq) {
				continue
			}
			if _, named := t.Resources[dlq].Properties["QueueName"]; !named {
				names[dlq] = strings.TrimSuffix(names[id], ".fifo") + "-dlq"
			}
		}
	}
	fifoNames(t, names)
	return names, nil
}

// fifoNames gives every FIFO queue a name ending in .fifo, as SQS requires
// (and CloudFormation does for a FIFO queue it names).
func fifoNames(t *Template, names map[string]string) {
	for _, id := range t.LogicalIDs(typeQueue) {
		fifo := fmt.Sprint(t.Resources[id].Properties["FifoQueue"])
		if (fifo == "true") && !strings.HasSuffix(names[id], ".fifo") {
			names[id] += ".fifo"
		}
	}
}

func boundByEnv(t *Template, id string) bool {
	for _, fn := range t.LogicalIDs(typeFunction) {
		for _, bound := range t.envBindings(fn) {
			if bound == id {
				return true
			}
		}
	}
	return false
}

var wordBoundary = regexp.MustCompile(`([a-z0-9])([A-Z])`)

func kebab(id string) string {
	return strings.ToLower(wordBoundary.ReplaceAllString(id, "$1-$2"))
}

// queueOrder lists the template's queues so that every queue comes after the
// queues it refers to: dead-letter queues first, since a RedrivePolicy needs
// its target's ARN.
func queueOrder(t *Template) ([]string, error) {
	ids := t.LogicalIDs(typeQueue)
	var order []string
	done := map[string]bool{}
	for len(order) < len(ids) {
		progressed := false
		for _, id := range ids {
			if done[id] {
				continue
			}
			ready := true
			for _, dep := range references(t.Resources[id].Properties) {
				if t.Resources[dep].Type == typeQueue && dep != id && !done[dep] {
					ready = false
				}
			}
			if ready {
				order = append(order, id)
				done[id] = true
				progressed = true
			}
		}
		if !progressed {
			return nil, fmt.Errorf("queues refer to each other in a cycle")
		}
	}
	return order, nil
}

// queueAttributeNames are the AWS::SQS::Queue properties that are also SQS
// queue attributes, under the same names.
var queueAttributeNames = map[string]bool{
	"ContentBasedDeduplication":     true,
	"DeduplicationScope":            true,
	"DelaySeconds":                  true,
	"FifoQueue":                     true,
	"FifoThroughputLimit":           true,
	"KmsDataKeyReusePeriodSeconds":  true,
	"KmsMasterKeyId":                true,
	"MaximumMessageSize":            true,
	"MessageRetentionPeriod":        true,
	"ReceiveMessageWaitTimeSeconds": true,
	"RedriveAllowPolicy":            true,
	"RedrivePolicy":                 true,
	"SqsManagedSseEnabled":          true,
	"VisibilityTimeout":             true,
}

// queueAttributes turns a queue's resolved properties into SQS attributes;
// the JSON policies (RedrivePolicy, RedriveAllowPolicy) become JSON text.
func queueAttributes(props map[string]any) (map[string]string, error) {
	attrs := map[string]string{}
	for k, v := range props {
		if !queueAttributeNames[k] {
			continue
		}
		if s, err := scalarString(v); err == nil {
			attrs[k] = s
			continue
		}
		b, err := jsonText(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		attrs[k] = b
	}
	return attrs, nil
}

// tableInput turns a table's resolved properties into CreateTable and
// UpdateTimeToLive requests.
func tableInput(r *resolver, name string, props map[string]any) (*dynamodb.CreateTableInput, *dynamodb.UpdateTimeToLiveInput, error) {
	type key struct{ AttributeName, KeyType string }
	type throughput struct{ ReadCapacityUnits, WriteCapacityUnits cfnInt }
	type index struct {
		IndexName  string
		KeySchema  []key
		Projection struct {
			ProjectionType   string
			NonKeyAttributes []string
		}
		ProvisionedThroughput *throughput
	}
	var p struct {
		BillingMode          string
		AttributeDefinitions []struct{ AttributeName, AttributeType string }
		KeySchema            []key
		GlobalSecondaryIndexes,
		LocalSecondaryIndexes []index
		ProvisionedThroughput   *throughput
		StreamSpecification     *struct{ StreamViewType string }
		TimeToLiveSpecification *struct {
			AttributeName string
			Enabled       cfnBool
		}
	}
	if err := r.decode(props, &p); err != nil {
		return nil, nil, err
	}
	keys := func(ks []key) []ddbtypes.KeySchemaElement {
		out := make([]ddbtypes.KeySchemaElement, len(ks))
		for i, k := range ks {
			out[i] = ddbtypes.KeySchemaElement{AttributeName: aws.String(k.AttributeName), KeyType: ddbtypes.KeyType(k.KeyType)}
		}
		return out
	}
	tp := func(t *throughput) *ddbtypes.ProvisionedThroughput {
		if t == nil {
			return nil
		}
		return &ddbtypes.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(int64(t.ReadCapacityUnits)), WriteCapacityUnits: aws.Int64(int64(t.WriteCapacityUnits))}
	}
	projection := func(ix index) *ddbtypes.Projection {
		pr := &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionType(ix.Projection.ProjectionType)}
		if len(ix.Projection.NonKeyAttributes) > 0 {
			pr.NonKeyAttributes = ix.Projection.NonKeyAttributes
		}
		return pr
	}
	in := &dynamodb.CreateTableInput{
		TableName:             aws.String(name),
		KeySchema:             keys(p.KeySchema),
		BillingMode:           ddbtypes.BillingMode(p.BillingMode),
		ProvisionedThroughput: tp(p.ProvisionedThroughput),
	}
	for _, a := range p.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName), AttributeType: ddbtypes.ScalarAttributeType(a.AttributeType),
		})
	}
	for _, ix := range p.GlobalSecondaryIndexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
			IndexName: aws.String(ix.IndexName), KeySchema: keys(ix.KeySchema), Projection: projection(ix),
			ProvisionedThroughput: tp(ix.ProvisionedThroughput),
		})
	}
	for _, ix := range p.LocalSecondaryIndexes {
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, ddbtypes.LocalSecondaryIndex{
			IndexName: aws.String(ix.IndexName), KeySchema: keys(ix.KeySchema), Projection: projection(ix),
		})
	}
	if p.StreamSpecification != nil {
		in.StreamSpecification = &ddbtypes.StreamSpecification{
			StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewType(p.StreamSpecification.StreamViewType),
		}
	}
	var ttl *dynamodb.UpdateTimeToLiveInput
	if s := p.TimeToLiveSpecification; s != nil {
		ttl = &dynamodb.UpdateTimeToLiveInput{
			TableName: aws.String(name),
			TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{
				AttributeName: aws.String(s.AttributeName), Enabled: aws.Bool(bool(s.Enabled)),
			},
		}
	}
	return in, ttl, nil
}

// createResources creates the template's tables and queues in moto, or
// adopts those that already exist under the same names (a moto that is
// reused). queueOverrides are set on top of the template's attributes, by
// logical id.
func createResources(ctx context.Context, c clients, t *Template, r *resolver, names map[string]string, queueOverrides map[string]map[string]string) (Resources, error) {
	res := Resources{Tables: map[string]Table{}, Queues: map[string]Queue{}}
	for _, id := range t.LogicalIDs(typeTable) {
		name := names[id]
		in, ttl, err := tableInput(r, name, t.Resources[id].Properties)
		if err != nil {
			return res, fmt.Errorf("table %s: %w", id, err)
		}
		var arn string
		out, err := c.dynamo.CreateTable(ctx, in)
		var inUse *ddbtypes.ResourceInUseException
		switch {
		case errors.As(err, &inUse):
			d, err := c.dynamo.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
			if err != nil {
				return res, fmt.Errorf("describe existing table %s: %w", name, err)
			}
			arn = aws.ToString(d.Table.TableArn)
			if ttl != nil {
				// DynamoDB refuses to set a TTL setting the table already has.
				cur, err := c.dynamo.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
				if err != nil {
					return res, fmt.Errorf("describe time to live of %s: %w", name, err)
				}
				if d := cur.TimeToLiveDescription; d != nil && aws.ToString(d.AttributeName) == aws.ToString(ttl.TimeToLiveSpecification.AttributeName) &&
					(d.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabled) == aws.ToBool(ttl.TimeToLiveSpecification.Enabled) {
					ttl = nil
				}
			}
		case err != nil:
			return res, fmt.Errorf("create table %s (%s): %w", name, id, err)
		default:
			arn = aws.ToString(out.TableDescription.TableArn)
		}
		if ttl != nil {
			if _, err := c.dynamo.UpdateTimeToLive(ctx, ttl); err != nil {
				return res, fmt.Errorf("set time to live on %s: %w", name, err)
			}
		}
		res.Tables[id] = Table{LogicalID: id, Name: name, ARN: arn}
		r.addTable(id, name)
	}
	order, err := queueOrder(t)
	if err != nil {
		return res, err
	}
	for _, id := range order {
		name := names[id]
		resolved, err := r.resolve(t.Resources[id].Properties)
		if err != nil {
			return res, fmt.Errorf("queue %s: %w", id, err)
		}
		props, _ := resolved.(map[string]any)
		attrs, err := queueAttributes(props)
		if err != nil {
			return res, fmt.Errorf("queue %s: %w", id, err)
		}
		for k, v := range queueOverrides[id] {
			attrs[k] = v
		}
		q, err := createQueue(ctx, c.sqs, name, attrs)
		if err != nil {
			return res, fmt.Errorf("queue %s: %w", id, err)
		}
		q.LogicalID = id
		res.Queues[id] = q
		r.addQueue(id, q.Name, q.URL, q.ARN)
	}
	return res, nil
}

// jsonText renders a resolved value as JSON, as CloudFormation passes JSON
// properties (a RedrivePolicy) on to SQS.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode as JSON: %w", err)
	}
	return string(b), nil
}

// createQueue creates a queue, or brings an existing one of that name to the
// attributes.
func createQueue(ctx context.Context, c *sqs.Client, name string, attrs map[string]string) (Queue, error) {
	var queueURL string
	if got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)}); err == nil {
		queueURL = aws.ToString(got.QueueUrl)
		if _, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: got.QueueUrl, Attributes: attrs}); err != nil {
			return Queue{}, fmt.Errorf("set attributes of existing queue %s: %w", name, err)
		}
	} else {
		out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
		if err != nil {
			return Queue{}, fmt.Errorf("create queue %s: %w", name, err)
		}
		queueURL = aws.ToString(out.QueueUrl)
	}
	return describeQueue(ctx, c, name, queueURL)
}

func describeQueue(ctx context.Context, c *sqs.Client, name, queueURL string) (Queue, error) {
	a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return Queue{}, fmt.Errorf("get ARN of queue %s: %w", name, err)
	}
	return Queue{Name: name, URL: queueURL, ARN: a.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]}, nil
}

// lookupResources finds the template's tables and queues in a running local
// stack without creating anything, for a one-off invoke.
func lookupResources(ctx context.Context, c clients, t *Template, r *resolver, names map[string]string) (Resources, error) {
	res := Resources{Tables: map[string]Table{}, Queues: map[string]Queue{}}
	for _, id := range t.LogicalIDs(typeTable) {
		d, err := c.dynamo.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(names[id])})
		if err != nil {
			return res, fmt.Errorf("find table %s (%s): %w", names[id], id, err)
		}
		res.Tables[id] = Table{LogicalID: id, Name: names[id], ARN: aws.ToString(d.Table.TableArn)}
		r.addTable(id, names[id])
	}
	for _, id := range t.LogicalIDs(typeQueue) {
		got, err := c.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(names[id])})
		if err != nil {
			return res, fmt.Errorf("find queue %s (%s): %w", names[id], id, err)
		}
		q, err := describeQueue(ctx, c.sqs, names[id], aws.ToString(got.QueueUrl))
		if err != nil {
			return res, err
		}
		q.LogicalID = id
		res.Queues[id] = q
		r.addQueue(id, q.Name, q.URL, q.ARN)
	}
	return res, nil
}
