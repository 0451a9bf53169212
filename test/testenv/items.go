package testenv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Fixture is a file of table items in DynamoDB's JSON (as `aws dynamodb
// scan` prints them), with the time they were written at: items an older
// version of Herald wrote, for the tests of the upgrade from it.
type Fixture struct {
	Items     []map[string]json.RawMessage `json:"items"`
	Now       time.Time                    `json:"now"`
	WrittenBy string                       `json:"written_by"`
}

// PutFixture writes a fixture's items into the test's table and returns the
// time they were written at.
func (e *Env) PutFixture(t testing.TB, path string) time.Time {
	t.Helper()
	raw, err := os.ReadFile(path) // #nosec G304 -- a fixture the test names
	if err != nil {
		t.Fatal(err)
	}
	var f Fixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for i, it := range f.Items {
		av, err := decodeItem(it)
		if err != nil {
			t.Fatalf("%s: item %d: %v", path, i, err)
		}
		if _, err := e.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(e.Table), Item: av}); err != nil {
			t.Fatalf("%s: item %d: %v", path, i, err)
		}
	}
	return f.Now
}

func decodeItem(raw map[string]json.RawMessage) (map[string]types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(raw))
	for name, v := range raw {
		av, err := decodeValue(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = av
	}
	return out, nil
}

// decodeValue reads one attribute value in DynamoDB's JSON: {"S": "..."}.
func decodeValue(raw json.RawMessage) (types.AttributeValue, error) {
	var typed map[string]json.RawMessage
	if err := json.Unmarshal(raw, &typed); err != nil || len(typed) != 1 {
		return nil, fmt.Errorf("not an attribute value: %s", raw)
	}
	for kind, v := range typed {
		switch kind {
		case "S", "N":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, err
			}
			if kind == "N" {
				return &types.AttributeValueMemberN{Value: s}, nil
			}
			return &types.AttributeValueMemberS{Value: s}, nil
		case "B":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, err
			}
			b, err := base64.StdEncoding.DecodeString(s)
			return &types.AttributeValueMemberB{Value: b}, err
		case "BOOL":
			var b bool
			err := json.Unmarshal(v, &b)
			return &types.AttributeValueMemberBOOL{Value: b}, err
		case "NULL":
			return &types.AttributeValueMemberNULL{Value: true}, nil
		case "SS":
			var ss []string
			err := json.Unmarshal(v, &ss)
			return &types.AttributeValueMemberSS{Value: ss}, err
		case "M":
			var m map[string]json.RawMessage
			if err := json.Unmarshal(v, &m); err != nil {
				return nil, err
			}
			item, err := decodeItem(m)
			return &types.AttributeValueMemberM{Value: item}, err
		case "L":
			var l []json.RawMessage
			if err := json.Unmarshal(v, &l); err != nil {
				return nil, err
			}
			out := make([]types.AttributeValue, len(l))
			for i, e := range l {
				av, err := decodeValue(e)
				if err != nil {
					return nil, err
				}
				out[i] = av
			}
			return &types.AttributeValueMemberL{Value: out}, nil
		default:
			return nil, fmt.Errorf("attribute type %s is not read here", kind)
		}
	}
	panic("unreachable")
}
