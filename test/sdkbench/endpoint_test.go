package sdkbench_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// BenchmarkEndpointRules times the SDK's rules-based endpoint resolution
// alone, with the parameters a call binds: on AWS (a region, no endpoint
// URL; DynamoDB with its account-ID mode and the table as resource) and on
// the local stack (an endpoint URL, which the rules return almost at once).
// BenchmarkSDK cannot show the AWS case: moto needs the endpoint URL.
func BenchmarkEndpointRules(b *testing.B) {
	ctx := context.Background()
	no := aws.Bool(false)
	cases := map[string]struct {
		dynamo dynamodb.EndpointParameters
		sqs    sqs.EndpointParameters
	}{
		"target=aws": {
			dynamo: dynamodb.EndpointParameters{Region: aws.String("eu-west-1"), UseDualStack: no, UseFIPS: no,
				AccountIdEndpointMode: aws.String(string(aws.AccountIDEndpointModePreferred)), ResourceArn: aws.String("herald-Table-1ABCDEF")},
			sqs: sqs.EndpointParameters{Region: aws.String("eu-west-1"), UseDualStack: no, UseFIPS: no},
		},
		"target=aws-accountid-disabled": {
			dynamo: dynamodb.EndpointParameters{Region: aws.String("eu-west-1"), UseDualStack: no, UseFIPS: no,
				AccountIdEndpointMode: aws.String(string(aws.AccountIDEndpointModeDisabled)), ResourceArn: aws.String("herald-Table-1ABCDEF")},
		},
		"target=local": {
			dynamo: dynamodb.EndpointParameters{Region: aws.String("us-east-1"), UseDualStack: no, UseFIPS: no, Endpoint: aws.String("http://127.0.0.1:4566"),
				AccountIdEndpointMode: aws.String(string(aws.AccountIDEndpointModePreferred)), ResourceArn: aws.String("herald-Table-1ABCDEF")},
			sqs: sqs.EndpointParameters{Region: aws.String("us-east-1"), UseDualStack: no, UseFIPS: no, Endpoint: aws.String("http://127.0.0.1:4566")},
		},
	}
	for name, tc := range cases {
		b.Run("service=dynamodb/"+name, func(b *testing.B) {
			r := dynamodb.NewDefaultEndpointResolverV2()
			for b.Loop() {
				e, err := r.ResolveEndpoint(ctx, tc.dynamo)
				if err != nil || e.URI.Host == "" {
					b.Fatalf("ResolveEndpoint: %v %v", e.URI, err)
				}
			}
		})
		if tc.sqs.Region == nil {
			continue
		}
		b.Run("service=sqs/"+name, func(b *testing.B) {
			r := sqs.NewDefaultEndpointResolverV2()
			for b.Loop() {
				e, err := r.ResolveEndpoint(ctx, tc.sqs)
				if err != nil || e.URI.Host == "" {
					b.Fatalf("ResolveEndpoint: %v %v", e.URI, err)
				}
			}
		})
	}
}
