package testenv

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Snapshot is a test's whole table, item by item under its key, and the
// message counts of its queues: taken before and after requests that must
// change nothing.
type Snapshot map[string]string

// Snapshot reads the table (consistently) and the queues' counts.
func (e *Env) Snapshot(t testing.TB) Snapshot {
	t.Helper()
	ctx := context.Background()
	snap := Snapshot{}
	p := dynamodb.NewScanPaginator(e.DB, &dynamodb.ScanInput{TableName: &e.Table, ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("scan the table: %v", err)
		}
		for _, it := range page.Items {
			snap["item "+avString(it["PK"])+" "+avString(it["SK"])] = avString(&types.AttributeValueMemberM{Value: it})
		}
	}
	for name, url := range map[string]string{"queue": e.QueueURL, "dlq": e.DLQURL} {
		out, err := e.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"}})
		if err != nil {
			t.Fatalf("%s attributes: %v", name, err)
		}
		for k, v := range out.Attributes {
			snap[name+" "+k] = v
		}
	}
	return snap
}

// Changed names the keys whose items or counts differ in after, never their
// contents (which hold secrets). Items whose partition key starts with one of
// the prefixes are left out: caches a read may fill, such as a project's
// call counts ("K#p1#").
func (s Snapshot) Changed(after Snapshot, ignorePK ...string) []string {
	ignored := func(k string) bool {
		for _, p := range ignorePK {
			if strings.HasPrefix(k, `item S"`+p) {
				return true
			}
		}
		return false
	}
	var keys []string
	for k, v := range s {
		if w, ok := after[k]; (!ok || w != v) && !ignored(k) {
			keys = append(keys, k)
		}
	}
	for k := range after {
		if _, ok := s[k]; !ok && !ignored(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// avString writes an attribute value in one stable form.
func avString(v types.AttributeValue) string {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return fmt.Sprintf("S%q", x.Value)
	case *types.AttributeValueMemberN:
		return "N" + x.Value
	case *types.AttributeValueMemberB:
		return fmt.Sprintf("B%x", x.Value)
	case *types.AttributeValueMemberBOOL:
		return fmt.Sprint(x.Value)
	case *types.AttributeValueMemberNULL:
		return "null"
	case *types.AttributeValueMemberSS:
		s := slices.Clone(x.Value)
		sort.Strings(s)
		return fmt.Sprintf("SS%q", s)
	case *types.AttributeValueMemberNS:
		s := slices.Clone(x.Value)
		sort.Strings(s)
		return fmt.Sprintf("NS%q", s)
	case *types.AttributeValueMemberBS:
		return fmt.Sprintf("BS%x", x.Value)
	case *types.AttributeValueMemberL:
		parts := make([]string, len(x.Value))
		for i, e := range x.Value {
			parts[i] = avString(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case *types.AttributeValueMemberM:
		keys := slices.Sorted(maps.Keys(x.Value))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%q:%s", k, avString(x.Value[k]))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	return fmt.Sprintf("%T", v)
}
