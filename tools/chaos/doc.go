// Package chaos is the chaos run of docs/reliability.md: it drives thousands
// of events through a local stack (tools/localstack) while it kills ingest
// and delivery invocations under way, answers the functions' DynamoDB and
// SQS requests through a fault-injecting proxy (FaultProxy), and sends the
// webhooks to a receiver that fails on purpose (tools/harness). Then it
// balances the harness's ledger: every (event, matching webhook) has exactly
// one call, and every call agrees with what the receiver logged.
//
// TestChaosShort runs a short form in `make test`; tools/herald-chaos (make
// chaos) the full one.
package chaos
