// Command api is ApiFunction: the webhook configuration and activity-log API
// behind API Gateway.
package main

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/httpapi"
	"github.com/heraldhq/herald/shared/signing"
	"github.com/heraldhq/herald/shared/sqs"
)

func main() {
	config.Start("api", func(settings config.Settings, awsCfg aws.Config) (any, error) {
		clock := herald.SystemClock{}
		store := dynamo.New(dynamo.Deps{DB: dynamodb.NewFromConfig(awsCfg, config.DynamoDBOptions), Table: settings.TableName, Clock: clock, Retention: settings.Retention})
		server := httpapi.New(httpapi.Deps{
			Webhooks:  store,
			Calls:     store,
			Tokens:    store,
			Queue:     sqs.New(awssqs.NewFromConfig(awsCfg, config.SQSOptions), settings.QueueURL),
			Clock:     clock,
			Log:       config.Logger(os.Stdout, settings.LogLevel),
			NewSecret: signing.NewSecret,
			Health:    store,
			Retention: settings.Retention,
		})
		return (&httpapi.Lambda{Handler: server}).Handle, nil
	})
}
