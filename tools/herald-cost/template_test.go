package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/heraldhq/herald/tools/localstack"
)

// TestReadDeployment reads what the model prices from a template as
// deployed with its defaults, and refuses one that lacks it.
func TestReadDeployment(t *testing.T) {
	const tmpl = `
Parameters:
  CallRetentionDays: { Type: Number, Default: 9 }
  PlatformLogLevel: { Type: String, Default: INFO }
Globals:
  Function: { MemorySize: 512 }
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }
      GlobalSecondaryIndexes:
        - IndexName: ByDue
          KeySchema: [{ AttributeName: D, KeyType: HASH }]
          Projection: { ProjectionType: INCLUDE, NonKeyAttributes: [x] }
  Queue: { Type: AWS::SQS::Queue }
  DeliveryFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Jobs: { Type: SQS, Properties: { Queue: !GetAtt Queue.Arn, BatchSize: 5 } }
`
	for name, tc := range map[string]struct {
		template string
		want     string // the deployment as %+v, or part of the error
	}{
		"read":          {tmpl, "{MemoryMB:512 RetentionDays:9 BatchSize:5 PITR:true Indexes:[{Name:ByDue Keys:[D] Projection:INCLUDE Include:[x]}] PlatformLogs:true}"},
		"no batch size": {strings.Replace(tmpl, "BatchSize: 5", "Enabled: true", 1), "BatchSize"},
		"no index keys": {strings.Replace(tmpl, "KeySchema: [{ AttributeName: D, KeyType: HASH }]", "KeySchema: []", 1), "no keys"},
		"no retention":  {strings.Replace(tmpl, "Default: 9", "Default: nine", 1), "CallRetentionDays"},
	} {
		parsed, err := localstack.ParseTemplate([]byte(tc.template))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d, err := readDeployment(parsed)
		got := fmt.Sprintf("%+v", d)
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) || (err == nil) != strings.HasPrefix(tc.want, "{") {
			t.Errorf("%s: got %s; want %s", name, got, tc.want)
		}
	}
}
