// Package chaos is the chaos run of docs/reliability.md: it drives thousands
// of events through a local stack (tools/localstack) while it kills ingest
// and delivery invocations under way, answers the functions' DynamoDB and
// SQS requests through a fault-injecting proxy (FaultProxy), and sends the
// webhooks to receivers that fail on purpose (Receiver). Then it balances a
// Ledger: every (event, matching webhook) has exactly one call, and every
// call agrees with what its receiver logged.
//
// TestChaosShort runs a short form in `make test`; tools/herald-chaos (make
// chaos) the full one.
package chaos
