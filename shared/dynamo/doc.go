// Package dynamo stores Herald's webhooks, API tokens, events and calls in
// one DynamoDB table. docs/data-model.md lays out every item and index and
// says why; key.go holds the key formats.
package dynamo
