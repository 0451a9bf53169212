package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/shared/herald"
)

type tokenItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Type      string `dynamodbav:"type"`
	Project   string `dynamodbav:"project"`
	Label     string `dynamodbav:"label,omitempty"`
	CreatedAt string `dynamodbav:"created_at"`
}

// PutToken stores a token's hash for a project. The token itself is never
// stored.
func (s *Store) PutToken(ctx context.Context, hash, project, label string) error {
	if err := checkProject(project); err != nil {
		return err
	}
	item, err := attributevalue.MarshalMap(tokenItem{
		PK: tokenKey(hash), SK: "T", Type: "token", Project: project, Label: label,
		CreatedAt: s.clock.Now().Format(time.RFC3339),
	})
	if err != nil {
		return classify(err, "marshal token")
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	return classify(err, "put token")
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
		return "", fmt.Errorf("token item %s has an unusable project id", hash[:8])
	}
	return it.Project, nil
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: pk},
		"SK": &types.AttributeValueMemberS{Value: sk},
	}
}
