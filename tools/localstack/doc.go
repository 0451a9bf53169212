// Package localstack runs Herald's local stack without Docker: moto for
// DynamoDB and SQS, each function's bootstrap under the Lambda Runtime
// Interface Emulator, a gateway that turns HTTP requests into API Gateway v2
// events, and a poller that feeds the delivery queue to the delivery function
// as Lambda's event source mapping would. Resources and function environments
// are read from template.yaml, so the local stack cannot drift from it.
//
// `make dev` (tools/herald-dev) and the end-to-end tests both use it.
package localstack
