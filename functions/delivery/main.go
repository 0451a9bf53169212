// Command delivery is DeliveryFunction: it sends the calls on the delivery
// queue and, on a schedule, sweeps parked retries onto it.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/shared/delivery"
	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/sender"
	"github.com/heraldhq/herald/shared/sqs"
)

func main() {
	config.TuneRuntime(os.Getenv)
	handler, err := newHandler(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "delivery:", err)
		os.Exit(1)
	}
	lambda.Start(handler.Invoke)
}

func newHandler(ctx context.Context) (*delivery.Handler, error) {
	settings, awsCfg, err := config.Load(ctx)
	if err != nil {
		return nil, err
	}
	clock := herald.SystemClock{}
	send, err := sender.New(sender.Options{AllowPrivate: settings.AllowPrivateTargets, Clock: clock})
	if err != nil {
		return nil, err
	}
	return delivery.New(delivery.Deps{
		Store:   dynamo.New(dynamo.Deps{DB: dynamodb.NewFromConfig(awsCfg, config.DynamoDBOptions), Table: settings.TableName, Clock: clock, Retention: settings.Retention}),
		Queue:   sqs.New(awssqs.NewFromConfig(awsCfg, config.SQSOptions), settings.QueueURL),
		Sender:  send,
		Clock:   clock,
		Log:     config.Logger(os.Stdout, settings.LogLevel),
		Metrics: os.Stdout,
	}), nil
}
