package dynamo

import (
	"strconv"
	"strings"
)

// Key formats. Every item has PK and SK; calls also carry GSI1 keys (the
// activity log) and, while a retry is parked, GSI2 keys (due retries).
const (
	projectPrefix = "P#"
	webhookPrefix = "W#"
	namePrefix    = "N#"
	tokenPrefix   = "T#"
)

func projectKey(project string) string { return projectPrefix + project }
func webhookSK(id string) string       { return webhookPrefix + id }

// nameSK claims a webhook name within its project. Names are unique without
// regard to case: "Deploy" and "deploy" in one list would confuse people.
func nameSK(name string) string { return namePrefix + strings.ToLower(name) }

func tokenKey(hash string) string { return tokenPrefix + hash }

// tokenListKey is the one partition listing every token (SK: its hash), so
// that listing tokens and revoking one by id never scan the table. It holds
// one small item per token, written only when a token is made or revoked.
const tokenListKey = "TOKENS"

// Calls. A call lives under its project and id, so a read is one GetItem and
// another project's id is simply not found. The activity log (GSI1) spreads a
// project's calls over callShards partition keys, so a busy project's writes
// are not funnelled into one key; listing merges the shards newest first.
const (
	callPrefix  = "C#"
	logPrefix   = "L#"
	duePrefix   = "DUE#"
	eventPrefix = "E#"
	callShards  = 16
	dueShards   = 4
)

func callKey(project, id string) string { return callPrefix + project + "#" + id }

// callShard spreads calls over shards by the last character of their ULID,
// which is random.
func callShard(id string) int {
	if id == "" {
		return 0
	}
	return int(id[len(id)-1]) % callShards
}

func logKey(project string, shard int) string {
	return logPrefix + project + "#" + strconv.Itoa(shard)
}

func dueKey(id string) string {
	return duePrefix + strconv.Itoa(callShard(id)%dueShards)
}

func eventKey(project, eventID string) string { return eventPrefix + project + "#" + eventID }

// callRefFromKey splits a call's PK into project and id; the id is the last
// 26 characters (a ULID), so a project id may contain anything.
func callRefFromKey(pk string) (project, id string, ok bool) {
	rest, ok := strings.CutPrefix(pk, callPrefix)
	if !ok || len(rest) < 28 || rest[len(rest)-27] != '#' {
		return "", "", false
	}
	return rest[:len(rest)-27], rest[len(rest)-26:], true
}
