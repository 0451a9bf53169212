// Package sdkbench measures what the AWS SDK costs Herald in CPU per call:
// DynamoDB PutItem, UpdateItem, GetItem and Query and SQS SendMessageBatch,
// made through real SDK clients against a moto server over HTTP on
// 127.0.0.1, with the clients built as the functions build them (from the
// environment, through shared/config) and with shared/config's tuning.
//
// moto runs in another process, so the process CPU a benchmark reports
// (cpu-ms/op, from getrusage) is the client's alone: the SDK, net/http, the
// loopback socket's system calls and the Go runtime (GC included). moto's own
// time shows only in ns/op, which is wall time.
//
// Run it with the local stack's tools installed (make tools):
//
//	HERALD_MOTO_SERVER=$PWD/.venv/moto/bin/herald-moto \
//	  go test ./test/sdkbench -run '^$' -bench . -benchtime 2s -count 3
package sdkbench
