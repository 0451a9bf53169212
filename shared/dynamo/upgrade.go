package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/shared/herald"
)

// Upgrading a table happens by itself, after a deploy: each sweep of the
// delivery function calls Upgrade with what is left of its minute, and
// Upgrade scans on from where the last one stopped, moving what older
// versions wrote to today's layout:
//
//   - calls of the older shape (C#<project>#<id>) to the activity log
//     (migrate.go); until one is moved, lists do not show it, though reads
//     by id, resends and retries find it;
//   - tokens made before the token list existed, into the list.
//
// Where it got to is kept in one item (upgradeKey); once the scan has seen
// the whole table, the item says so and later calls read only it. Each step
// is safe to repeat, and to run beside the lazy moves of reads by id, so a
// step cut short by a crash or a timeout loses nothing.
const (
	upgradeKey     = "UPGRADE"
	upgradeVersion = "lean-data-path" // which upgrade: the layout of issue 11
)

// upgradePage is how many items one Scan page reads: 1 MB at most, at
// DynamoDB's limit, and a page is the unit of progress saved.
const upgradePage = 500

// Upgrade moves older items until the table is done, maxItems items have
// been scanned, or ctx is within margin of its deadline. It needs a client
// that can Scan: the delivery function's has the permission, for this.
func (s *Store) Upgrade(ctx context.Context, maxItems int, margin time.Duration) (herald.UpgradeProgress, error) {
	var p herald.UpgradeProgress
	scanner, ok := s.db.(dynamodb.ScanAPIClient)
	if !ok {
		return p, fmt.Errorf("upgrade: the store's client cannot Scan")
	}
	state, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(upgradeKey, upgradeVersion), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return p, classify(err, "read the upgrade's progress")
	}
	st := item(state.Item)
	if st.bool("done") {
		p.Done = true
		return p, nil
	}
	in := &dynamodb.ScanInput{
		TableName:                aws.String(s.table),
		ProjectionExpression:     aws.String("PK, SK, #type, #project, label, created_at"),
		FilterExpression:         aws.String("(begins_with(PK, :c) AND SK = :csk) OR (begins_with(PK, :t) AND SK = :tsk)"),
		ExpressionAttributeNames: map[string]string{"#type": "type", "#project": "project"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":c": avS(legacyCallPrefix), ":csk": avS("C"), ":t": avS(tokenPrefix), ":tsk": avS("T"),
		},
	}
	if cursor, ok := st["cursor"].(*types.AttributeValueMemberM); ok {
		in.ExclusiveStartKey = cursor.Value
	}
	for p.Scanned < maxItems && !nearDeadline(ctx, margin) {
		in.Limit = aws.Int32(int32(min(upgradePage, maxItems-p.Scanned))) // #nosec G115 -- at most upgradePage
		page, err := scanner.Scan(ctx, in)
		if err != nil {
			return p, classify(err, "scan for older items")
		}
		p.Scanned += int(page.ScannedCount)
		for _, raw := range page.Items {
			if err := s.upgradeItem(ctx, raw, &p); err != nil {
				return p, err
			}
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
		p.Done = len(page.LastEvaluatedKey) == 0
		if err := s.saveUpgrade(ctx, page.LastEvaluatedKey); err != nil {
			return p, err
		}
		if p.Done {
			break
		}
	}
	return p, nil
}

func (s *Store) upgradeItem(ctx context.Context, raw map[string]types.AttributeValue, p *herald.UpgradeProgress) error {
	pk := item(raw).s("PK")
	if project, id, ok := legacyCallRef(pk); ok {
		moved, err := s.migrateOne(ctx, project, id)
		if err != nil {
			return err
		}
		if moved != nil {
			p.Calls++
		}
		return nil
	}
	if item(raw).s("SK") != "T" {
		return nil
	}
	added, err := s.indexLegacyToken(ctx, raw)
	if added {
		p.Tokens++
	}
	return err
}

// saveUpgrade keeps where the scan got to; no cursor means it is done.
func (s *Store) saveUpgrade(ctx context.Context, cursor map[string]types.AttributeValue) error {
	it := map[string]types.AttributeValue{"PK": avS(upgradeKey), "SK": avS(upgradeVersion),
		"updated_at": avN(s.clock.Now().Unix())}
	if len(cursor) == 0 {
		it["done"] = avBool(true)
	} else {
		it["cursor"] = &types.AttributeValueMemberM{Value: cursor}
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: it})
	return classify(err, "save the upgrade's progress")
}

func nearDeadline(ctx context.Context, margin time.Duration) bool {
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < margin
}
