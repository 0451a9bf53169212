package dynamo

import "strings"

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
