// Command ingest is IngestFunction: the CMS invokes it with change events.
package main

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/ingest"
	"github.com/heraldhq/herald/shared/sqs"
)

func main() {
	config.Start("ingest", func(settings config.Settings, awsCfg aws.Config) (any, error) {
		clock := herald.SystemClock{}
		handler := ingest.New(ingest.Deps{
			Store:     dynamo.New(dynamo.Deps{DB: dynamodb.NewFromConfig(awsCfg, config.DynamoDBOptions), Table: settings.TableName, Clock: clock, Retention: settings.Retention}),
			Queue:     sqs.New(awssqs.NewFromConfig(awsCfg, config.SQSOptions), settings.FirstQueueURL),
			Clock:     clock,
			Log:       config.Logger(os.Stdout, settings.LogLevel),
			Retention: settings.Retention,
			Metrics:   os.Stdout,
		})
		return handler.Handle, nil
	})
}
