package dynamo

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/shared/herald"
)

// A token is stored twice, never in clear: under T#<hash> for the API's
// one-GetItem check, and as an entry of the token list (tokenListKey, SK
// the hash) so that listing and revoking never scan the table. Both items
// are written and deleted together, in one transaction.
type tokenItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Type      string `dynamodbav:"type"`
	Project   string `dynamodbav:"project"`
	Label     string `dynamodbav:"label,omitempty"`
	CreatedAt string `dynamodbav:"created_at"`
}

// Token is what the table knows of an API token: which project it opens,
// what it is for and when it was made. Not the token, nor all of its hash.
type Token struct {
	ID        string // herald.TokenID of the hash
	Project   string
	Label     string
	CreatedAt time.Time
	hash      string
}

// PutToken stores a token's hash for a project. The token itself is never
// stored.
func (s *Store) PutToken(ctx context.Context, hash, project, label string) error {
	if err := checkProject(project); err != nil {
		return err
	}
	created := s.clock.Now().UTC().Format(herald.TimeFormat)
	auth, err := attributevalue.MarshalMap(tokenItem{
		PK: tokenKey(hash), SK: "T", Type: "token", Project: project, Label: label, CreatedAt: created,
	})
	if err != nil {
		return classify(err, "marshal token")
	}
	entry, err := attributevalue.MarshalMap(tokenItem{
		PK: tokenListKey, SK: hash, Type: "token_entry", Project: project, Label: label, CreatedAt: created,
	})
	if err != nil {
		return classify(err, "marshal token list entry")
	}
	absent := aws.String("attribute_not_exists(PK)")
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.table), Item: auth, ConditionExpression: absent}},
		{Put: &types.Put{TableName: aws.String(s.table), Item: entry, ConditionExpression: absent}},
	}})
	if slices.Contains(cancelReasons(err), "ConditionalCheckFailed") {
		return fmt.Errorf("put token %s: %w", herald.TokenID(hash), herald.Errorf(herald.ECONFLICT, "this token is already stored"))
	}
	return classify(err, "put token %s", herald.TokenID(hash))
}

// ProjectForToken returns the project a token hash belongs to, or
// EUNAUTHORIZED.
func (s *Store) ProjectForToken(ctx context.Context, hash string) (string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table),
		Key:       key(tokenKey(hash), "T"),
		// PROJECT is a reserved word in DynamoDB expressions.
		ProjectionExpression:     aws.String("#project"),
		ExpressionAttributeNames: map[string]string{"#project": "project"},
	})
	if err != nil {
		return "", classify(err, "get token")
	}
	if out.Item == nil {
		return "", herald.Errorf(herald.EUNAUTHORIZED, "the API token is not valid")
	}
	var it tokenItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return "", classify(err, "decode token")
	}
	if it.Project == "" || herald.ProjectIDProblem(it.Project) != "" {
		// Written by hand or by an older version: its project cannot be
		// told apart from another's in the keys, so it opens nothing.
		return "", fmt.Errorf("token item %s has an unusable project id", herald.TokenID(hash))
	}
	return it.Project, nil
}

// ListTokens lists the tokens of a project, or of every project when
// project is empty, oldest first: one Query of the token list, which holds
// one small item per token.
func (s *Store) ListTokens(ctx context.Context, project string) ([]Token, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: tokenListKey}},
	}
	if project != "" {
		in.FilterExpression = aws.String("#project = :project")
		in.ExpressionAttributeNames = map[string]string{"#project": "project"}
		in.ExpressionAttributeValues[":project"] = &types.AttributeValueMemberS{Value: project}
	}
	var tokens []Token
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, classify(err, "list tokens")
		}
		for _, item := range out.Items {
			t, err := decodeTokenEntry(item)
			if err != nil {
				return nil, err
			}
			tokens = append(tokens, t)
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	slices.SortStableFunc(tokens, func(a, b Token) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return tokens, nil
}

func decodeTokenEntry(item map[string]types.AttributeValue) (Token, error) {
	var it tokenItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return Token{}, classify(err, "decode token list entry")
	}
	// Entries indexed from older tokens carry their RFC 3339 times.
	created, err := time.Parse(time.RFC3339, it.CreatedAt)
	if err != nil {
		return Token{}, fmt.Errorf("token %s: created_at %q: %w", herald.TokenID(it.SK), it.CreatedAt, err)
	}
	return Token{ID: herald.TokenID(it.SK), Project: it.Project, Label: it.Label, CreatedAt: created, hash: it.SK}, nil
}

// A token id as given to RevokeToken: a hash's first hex digits, at least
// 8 of them so that a slip of the keyboard cannot name a token by chance.
var tokenIDPattern = regexp.MustCompile(`^[0-9a-f]{8,64}$`)

// RevokeToken deletes the token whose hash starts with id (a Token.ID, or
// more of the hash): from then on ProjectForToken refuses it. It returns
// what it deleted. An id that matches no token is ENOTFOUND; one that
// matches more than one is EINVALID, and nothing is deleted.
func (s *Store) RevokeToken(ctx context.Context, id string) (Token, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	if !tokenIDPattern.MatchString(id) {
		return Token{}, herald.Errorf(herald.EINVALID, "a token id is 8 to 64 hex digits, as herald-token list shows them; not %q", id)
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :id)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: tokenListKey},
			":id": &types.AttributeValueMemberS{Value: id},
		},
		Limit: aws.Int32(2), // one more than a unique match
	})
	if err != nil {
		return Token{}, classify(err, "find token %s", id)
	}
	switch len(out.Items) {
	case 0:
		return Token{}, herald.Errorf(herald.ENOTFOUND, "no token has the id %s", id)
	case 1:
	default:
		return Token{}, herald.Errorf(herald.EINVALID, "more than one token's id starts with %s; give more of it", id)
	}
	t, err := decodeTokenEntry(out.Items[0])
	if err != nil {
		return Token{}, err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: aws.String(s.table), Key: key(tokenKey(t.hash), "T")}},
		// Two revocations racing: the second finds the entry gone.
		{Delete: &types.Delete{TableName: aws.String(s.table), Key: key(tokenListKey, t.hash),
			ConditionExpression: aws.String("attribute_exists(PK)")}},
	}})
	if slices.Contains(cancelReasons(err), "ConditionalCheckFailed") {
		return Token{}, herald.Errorf(herald.ENOTFOUND, "token %s was revoked meanwhile", t.ID)
	}
	if err != nil {
		return Token{}, classify(err, "revoke token %s", t.ID)
	}
	return t, nil
}

// indexLegacyToken adds to the token list a token stored before the list
// existed (a T#<hash> item alone), so that it can be listed and revoked by
// id; it authenticates either way. Upgrade finds them; indexing one twice
// adds nothing.
func (s *Store) indexLegacyToken(ctx context.Context, raw map[string]types.AttributeValue) (bool, error) {
	var it tokenItem
	if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
		return false, classify(err, "decode token")
	}
	hash := strings.TrimPrefix(it.PK, tokenPrefix)
	entry, err := attributevalue.MarshalMap(tokenItem{
		PK: tokenListKey, SK: hash, Type: "token_entry", Project: it.Project, Label: it.Label, CreatedAt: it.CreatedAt,
	})
	if err != nil {
		return false, classify(err, "marshal token list entry")
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: entry, ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if isConditionFailed(err) {
		return false, nil // listed already
	}
	if err != nil {
		return false, classify(err, "index token %s", herald.TokenID(hash))
	}
	return true, nil
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: pk},
		"SK": &types.AttributeValueMemberS{Value: sk},
	}
}
