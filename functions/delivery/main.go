// Command delivery is DeliveryFunction: it sends the calls on the delivery
// queue and, on a schedule, sweeps parked retries onto it.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/shared/delivery"
	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/ingest"
	"github.com/heraldhq/herald/shared/sender"
	"github.com/heraldhq/herald/shared/sqs"
)

func main() {
	config.Start("delivery", func(settings config.Settings, awsCfg aws.Config) (any, error) {
		handler, err := newHandler(settings, awsCfg)
		if err != nil {
			return nil, err
		}
		return handler.Invoke, nil
	})
}

func newHandler(settings config.Settings, awsCfg aws.Config) (*delivery.Handler, error) {
	clock := herald.SystemClock{}
	send, err := sender.New(sender.Options{AllowPrivate: settings.AllowPrivateTargets, Clock: clock})
	if err != nil {
		return nil, err
	}
	store := dynamo.New(dynamo.Deps{DB: dynamodb.NewFromConfig(awsCfg, config.DynamoDBOptions), Table: settings.TableName, Clock: clock, Retention: settings.Retention})
	sqsClient := awssqs.NewFromConfig(awsCfg, config.SQSOptions)
	log := config.Logger(os.Stdout, settings.LogLevel)
	// Operational events go through ingest's own code, to the first-attempt
	// queue, like the CMS's events (docs/endpoint-health.md).
	events := ingest.New(ingest.Deps{
		Store:     store,
		Queue:     sqs.New(sqsClient, settings.FirstQueueURL),
		Clock:     clock,
		Log:       log,
		Retention: settings.Retention,
	})
	return delivery.New(delivery.Deps{
		Store:   store,
		Queue:   sqs.New(sqsClient, settings.QueueURL),
		Sender:  send,
		Clock:   clock,
		Log:     log,
		Metrics: os.Stdout,
		Health:  store,
		Raise: func(ctx context.Context, ev *herald.Event, subject *herald.Subject) error {
			_, err := events.Raise(ctx, ev, subject)
			return err
		},
		AutoDisableAfter: settings.AutoDisableAfter,
	}), nil
}
