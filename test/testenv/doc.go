// Package testenv gives integration tests real AWS services to talk to: one
// moto server per test binary (DynamoDB and SQS over HTTP), and per test a
// fresh table and queues created from template.yaml by tools/localstack. It
// also counts the AWS calls a test makes, through an SDK middleware.
//
// A test package that uses it runs it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }
package testenv
