package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path"
	"regexp"
	"slices"
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
	names, bound := map[string]string{}, map[string]bool{}
	for _, fn := range t.LogicalIDs(typeFunction) {
		values := env.For(fn)
		for variable, id := range t.envBindings(fn) {
			bound[id] = true
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
	for typ, prop := range map[string]string{typeTable: "TableName", typeQueue: "QueueName"} {
		for _, id := range t.LogicalIDs(typ) {
			if _, ok := names[id]; ok {
				continue
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
		dlq := deadLetterTarget(t.Resources[id])
		if _, named := t.Resources[dlq].Properties["QueueName"]; dlq != "" && !named && !bound[dlq] {
			names[dlq] = strings.TrimSuffix(names[id], ".fifo") + "-dlq"
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

var wordBoundary = regexp.MustCompile(`([a-z0-9])([A-Z])`)

func kebab(id string) string {
	return strings.ToLower(wordBoundary.ReplaceAllString(id, "$1-$2"))
}

// deadLetterTarget is the logical id of the queue a queue's RedrivePolicy
// sends to (its deadLetterTargetArn is a !GetAtt of it), or "".
func deadLetterTarget(q Resource) string {
	policy, _ := q.Properties["RedrivePolicy"].(map[string]any)
	target, _ := policy["deadLetterTargetArn"].(map[string]any)
	getAtt, _ := target["Fn::GetAtt"].([]any)
	if len(getAtt) == 0 {
		return ""
	}
	id, _ := getAtt[0].(string)
	return id
}

// createResources creates the template's tables and queues in moto, or
// adopts those that already exist under the same names (a moto that is
// reused). queueOverrides are set on top of the template's attributes, by
// logical id.
func createResources(ctx context.Context, c clients, t *Template, r *resolver, names map[string]string, queueOverrides map[string]map[string]string) (Resources, error) {
	return resources(ctx, c, t, r, names, true, queueOverrides)
}

// lookupResources finds the template's tables and queues in a running local
// stack without creating anything, for a one-off invoke.
func lookupResources(ctx context.Context, c clients, t *Template, r *resolver, names map[string]string) (Resources, error) {
	return resources(ctx, c, t, r, names, false, nil)
}

// resources finds the template's tables and queues in moto, creating them
// first if create is set, and records them with the resolver.
func resources(ctx context.Context, c clients, t *Template, r *resolver, names map[string]string, create bool, queueOverrides map[string]map[string]string) (Resources, error) {
	res := Resources{Tables: map[string]Table{}, Queues: map[string]Queue{}}
	for _, id := range t.LogicalIDs(typeTable) {
		name := names[id]
		if create {
			if err := createTable(ctx, c.dynamo, r, name, t.Resources[id].Properties); err != nil {
				return res, fmt.Errorf("table %s: %w", id, err)
			}
		}
		d, err := c.dynamo.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return res, fmt.Errorf("find table %s (%s): %w", name, id, err)
		}
		res.Tables[id] = Table{LogicalID: id, Name: name, ARN: aws.ToString(d.Table.TableArn)}
		r.addTable(id, name)
	}
	// Queues a RedrivePolicy names come first: the policy needs their ARN.
	order := t.LogicalIDs(typeQueue)
	redrives := func(id string) int { return len(deadLetterTarget(t.Resources[id])) }
	slices.SortStableFunc(order, func(a, b string) int { return min(redrives(a), 1) - min(redrives(b), 1) })
	for _, id := range order {
		q := Queue{LogicalID: id, Name: names[id]}
		var err error
		if create {
			q.URL, err = createQueue(ctx, c.sqs, r, q.Name, t.Resources[id].Properties, queueOverrides[id])
		} else if got, gerr := c.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(q.Name)}); gerr == nil {
			q.URL = aws.ToString(got.QueueUrl)
		} else {
			err = fmt.Errorf("find queue %s: %w", q.Name, gerr)
		}
		if err != nil {
			return res, fmt.Errorf("queue %s: %w", id, err)
		}
		a, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(q.URL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
		})
		if err != nil {
			return res, fmt.Errorf("get ARN of queue %s: %w", q.Name, err)
		}
		q.ARN = a.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
		res.Queues[id] = q
		r.addQueue(id, q.Name, q.URL, q.ARN)
	}
	return res, nil
}

// createTable creates a table from its properties, unless one of that name
// exists, and brings its time to live to theirs. CloudFormation's
// properties carry the API's names, so they decode into its input; what the
// API does not take at creation (backups, encryption) is left out.
func createTable(ctx context.Context, db *dynamodb.Client, r *resolver, name string, props map[string]any) error {
	var in struct {
		dynamodb.CreateTableInput
		TimeToLiveSpecification *ddbtypes.TimeToLiveSpecification
		SSESpecification        any // CloudFormation's differs from the API's
	}
	if err := r.decode(props, &in); err != nil {
		return err
	}
	in.TableName = aws.String(name)
	var inUse *ddbtypes.ResourceInUseException
	if _, err := db.CreateTable(ctx, &in.CreateTableInput); err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	want := in.TimeToLiveSpecification
	if want == nil {
		return nil
	}
	// DynamoDB refuses to set a TTL setting the table already has.
	cur, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("describe time to live of %s: %w", name, err)
	}
	if d := cur.TimeToLiveDescription; d != nil && aws.ToString(d.AttributeName) == aws.ToString(want.AttributeName) &&
		(d.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabled) == aws.ToBool(want.Enabled) {
		return nil
	}
	if _, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(name), TimeToLiveSpecification: want}); err != nil {
		return fmt.Errorf("set time to live on %s: %w", name, err)
	}
	return nil
}

// createQueue creates a queue from its properties, with overrides on top,
// or brings an existing one of that name to those attributes, and returns
// its URL. The properties are the SQS attributes under the same names; the
// JSON policies (RedrivePolicy, RedriveAllowPolicy) become JSON text.
func createQueue(ctx context.Context, c *sqs.Client, r *resolver, name string, props map[string]any, overrides map[string]string) (string, error) {
	resolved, err := r.resolve(props)
	if err != nil {
		return "", err
	}
	m, _ := resolved.(map[string]any)
	attrs := map[string]string{}
	for k, v := range m {
		if k == "QueueName" || k == "Tags" {
			continue
		}
		s, err := scalarString(v)
		if err != nil {
			b, jerr := json.Marshal(v)
			if jerr != nil {
				return "", fmt.Errorf("%s: %w", k, jerr)
			}
			s = string(b)
		}
		attrs[k] = s
	}
	maps.Copy(attrs, overrides)
	if got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)}); err == nil {
		if _, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: got.QueueUrl, Attributes: attrs}); err != nil {
			return "", fmt.Errorf("set attributes of existing queue %s: %w", name, err)
		}
		return aws.ToString(got.QueueUrl), nil
	}
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", fmt.Errorf("create queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}
