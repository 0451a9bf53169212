package dynamo

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/shared/herald"
)

// Key formats. Every item has PK and SK; a call also carries GSI2 keys
// while a retry of it is parked (due retries).
const (
	projectPrefix = "P#"
	webhookPrefix = "W#"
	namePrefix    = "N#"
	tokenPrefix   = "T#"
)

// Keys join a project id and an item's id with '#'. Both are checked before
// they reach a key: a project id may not contain '#' and an id is a ULID
// (herald.ProjectIDProblem, herald.IsID), so no pair of project and id can
// spell another project's key. Reads by id also check the item's own
// project and id (owns), in case an item was ever written otherwise.

// checkProject refuses a project id a key cannot hold unambiguously.
func checkProject(project string) error {
	if p := herald.ProjectIDProblem(project); p != "" {
		return herald.Errorf(herald.EINVALID, "project id %q %s", truncateID(project), p)
	}
	return nil
}

// lookup checks the project and id of a read by id; a malformed id names no
// item, so it is simply not found.
func lookup(project, id, what string) error {
	if err := checkProject(project); err != nil {
		return err
	}
	if !herald.IsID(id) {
		return herald.Errorf(herald.ENOTFOUND, "%s %s not found", what, truncateID(id))
	}
	return nil
}

// owns reports whether an item read by key holds the project and id asked
// for: the second wall behind checkProject and lookup.
func owns(itemProject, itemID, project, id string) bool {
	return itemProject == project && itemID == id
}

func truncateID(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%.40s…", s)
	}
	return s
}

func projectKey(project string) string { return projectPrefix + project }

// projectQuery reads, strongly consistent, the items of a project's
// partition whose sort key starts with prefix: its webhooks, their name
// claims, their health.
func (s *Store) projectQuery(project, prefix string) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :prefix)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(projectKey(project)), ":prefix": avS(prefix)},
		ConsistentRead:            aws.Bool(true),
	}
}
func webhookSK(id string) string { return webhookPrefix + id }

// nameSK claims a webhook name within its project. Names are unique without
// regard to case: "Deploy" and "deploy" in one list would confuse people.
func nameSK(name string) string { return namePrefix + strings.ToLower(name) }

func tokenKey(hash string) string { return tokenPrefix + hash }

// tokenListKey is the one partition listing every token (SK: its hash), so
// that listing tokens and revoking one by id never scan the table. It holds
// one small item per token, written only when a token is made or revoked.
const tokenListKey = "TOKENS"

// Calls. A call lives in its project's activity log: partition
// L#<project>#<shard>, sort key its id. The shard derives from the id, so a
// read by id is one GetItem, another project's id is simply not found, and
// a busy project's writes spread over callShards partition keys; listing
// merges the shards newest first. No index is written for it.
const (
	logPrefix   = "L#"
	duePrefix   = "DUE#"
	eventPrefix = "E#"
	callShards  = 16
	dueShards   = 4
)

// callPK is the partition of a call.
func callPK(project, id string) string { return logKey(project, callShard(id)) }

// Calls written before the lean data path lived under C#<project>#<id>,
// SK "C", indexed by an index since removed (GSI1); migrate.go moves them.
const legacyCallPrefix = "C#"

func legacyCallKey(project, id string) string { return legacyCallPrefix + project + "#" + id }

// callShard spreads calls over shards by the value of the last digit of
// their ULID, which is random: 32 values, two per shard.
func callShard(id string) int {
	if id == "" {
		return 0
	}
	return herald.CrockfordValue(id[len(id)-1]) & (callShards - 1)
}

func logKey(project string, shard int) string {
	return logPrefix + project + "#" + strconv.Itoa(shard)
}

func dueKey(id string) string {
	return duePrefix + strconv.Itoa(callShard(id)%dueShards)
}

func eventKey(project, eventID string) string { return eventPrefix + project + "#" + eventID }

// What an item is, by its key, for tools that size the table's items.
const (
	KindCall  = "call"
	KindEvent = "event"
)

// KindOf tells a call's and an event's item from the others (""), by
// partition key.
func KindOf(item map[string]types.AttributeValue) string {
	pk, _ := item["PK"].(*types.AttributeValueMemberS)
	switch {
	case pk == nil:
		return ""
	case strings.HasPrefix(pk.Value, logPrefix):
		return KindCall
	case strings.HasPrefix(pk.Value, eventPrefix):
		return KindEvent
	}
	return ""
}

// projectOfLog returns the project of an activity-log partition key.
func projectOfLog(pk string) (string, bool) {
	rest, ok := strings.CutPrefix(pk, logPrefix)
	i := strings.LastIndexByte(rest, '#')
	if !ok || i <= 0 {
		return "", false
	}
	return rest[:i], true
}

// legacyCallRef splits a legacy call's PK into project and id; the id is
// the last 26 characters (a ULID).
func legacyCallRef(pk string) (project, id string, ok bool) {
	rest, ok := strings.CutPrefix(pk, legacyCallPrefix)
	if !ok || len(rest) < 28 || rest[len(rest)-27] != '#' {
		return "", "", false
	}
	return rest[:len(rest)-27], rest[len(rest)-26:], true
}
