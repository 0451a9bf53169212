// Command ingest is IngestFunction: the CMS invokes it with change events.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/ingest"
	"github.com/heraldhq/herald/shared/sqs"
)

func main() {
	config.TuneRuntime(os.Getenv)
	ctx := context.Background()
	settings, awsCfg, err := config.Load(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
	clock := herald.SystemClock{}
	handler := ingest.New(ingest.Deps{
		Store:     dynamo.New(dynamodb.NewFromConfig(awsCfg, config.DynamoDBOptions), settings.TableName, clock),
		Queue:     sqs.New(awssqs.NewFromConfig(awsCfg, config.SQSOptions), settings.FirstQueueURL),
		Clock:     clock,
		Log:       config.Logger(os.Stdout, settings.LogLevel),
		Retention: settings.Retention,
		Metrics:   os.Stdout,
	})
	lambda.Start(handler.Handle)
}
