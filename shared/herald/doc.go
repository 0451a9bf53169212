// Package herald is Herald's domain: webhooks and their triggers, events from
// the CMS, calls and their attempts, trigger matching and the retry schedule.
//
// It imports nothing from AWS. Adapters live beside it and are named after
// what they wrap: dynamo (DynamoDB), sqs (SQS), httpapi (the HTTP API),
// sender (outbound HTTP).
package herald
