// Package benchkit is what Herald's CPU benchmarks share: in-memory stand-ins
// for the DynamoDB and SQS clients the store and queue adapters call, so that a
// benchmark measures Herald's own code (matching, rendering, signing, item
// marshalling, logging) and not the network or a moto server; and a metric of
// process CPU time per operation.
//
// The stand-ins keep items by key and hand them back; they evaluate no
// condition or update expression. They stand in for AWS only where a figure is
// about CPU: the tests that claim to test storage or queueing use moto
// (test/testenv).
package benchkit
