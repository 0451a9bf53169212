// Package localstack runs Herald's local stack without Docker: moto for
// DynamoDB and SQS, each function's bootstrap under the Lambda Runtime
// Interface Emulator, a gateway that turns HTTP requests into API Gateway v2
// events, and a poller that feeds the delivery queue to the delivery function
// as Lambda's event source mapping would. Resources and function environments
// are read from template.yaml, so the local stack cannot drift from it.
//
// `make dev` (tools/herald-dev) and the end-to-end tests both use it.
//
// Where things come from:
//
//   - Tables and queues: the template's AWS::DynamoDB::Table and
//     AWS::SQS::Queue resources (template.go, resources.go). Their local
//     names come from events/env.json, the file `sam local invoke --env-vars`
//     reads: a resource that a function's variable is a !Ref of is named by
//     that variable's value there (TABLE_NAME=herald-local names the table,
//     DELIVERY_QUEUE_URL's last segment the queue); a dead-letter queue is
//     named after its source queue with "-dlq".
//   - A function's environment, weakest first: moto's endpoint, region and
//     credentials; the template's Globals and own Environment.Variables,
//     parameters at their defaults; events/env.json; then the running
//     stack's real endpoints and resource URLs (they differ from the file's
//     on random ports); then Options.Overrides and Options.ExtraEnv.
//   - Timeout and MemorySize: the function's, else Globals', as SAM does.
//   - The poller's batch size, batching window and ReportBatchItemFailures:
//     the function's SQS event; the scheduler's input: its Schedule event.
//
// Template.Evaluate reads the template as CloudFormation would deploy it
// with given parameter values (conditions decided, other resources as
// placeholders), so that tools/deploy can test what each option deploys.
//
// What differs from AWS: the sweep schedule runs at Options.SweepInterval
// rather than the template's rate; Lambda's 6 MB invocation payload limit
// is not enforced; IAM policies are not; there is no reserved concurrency
// beyond the pool sizes.
package localstack
