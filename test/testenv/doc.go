// Package testenv gives integration tests real AWS services to talk to: one
// moto server per test binary (DynamoDB and SQS over HTTP), and per test a
// fresh table and queues created from template.yaml by tools/localstack. It
// also counts the AWS calls a test makes, through an SDK middleware, and
// holds what several suites share: a hand-moved clock (Clock), log capture
// that keeps secrets out (Logger, Secret), and a caller of Herald's API
// (CallAPI).
//
// A test package that uses it runs it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }
package testenv
