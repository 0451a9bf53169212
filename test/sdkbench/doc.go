// Package sdkbench measures what the AWS SDK costs Herald in CPU per call:
// DynamoDB PutItem, UpdateItem, GetItem and Query and SQS SendMessageBatch,
// made through real SDK clients against a moto server, with the clients
// built as the functions build them (from the environment) before and after
// shared/config's tuning.
//
// moto runs in another process, and so does the front some benchmarks go
// through (this test binary again, as a reverse proxy that keeps
// connections alive, over HTTP or TLS, as AWS does: moto closes every
// connection). The process CPU a benchmark reports (cpu-ms/op, from
// getrusage) is therefore the client's alone: the SDK, net/http, TLS, the
// loopback socket's system calls and the Go runtime, collector included.
// moto's own time shows only in ns/op, which is wall time.
//
//   - BenchmarkSDK: each operation, per connection kind (conn=close: moto
//     itself; keepalive; tls; tls-new: a TLS handshake per call) and setup.
//   - BenchmarkSDKOffline: the SDK alone, moto's response replayed.
//   - BenchmarkHTTPFloor: the same request with bare net/http.
//   - BenchmarkSDKConcurrent: bursts of 16 calls over TLS.
//   - BenchmarkEndpointRules: endpoint resolution with AWS's parameters.
//   - BenchmarkSDKOfflineInterleaved, BenchmarkRuntimeInterleaved: settings
//     compared within one run, for differences smaller than this machine's
//     run-to-run noise (HERALD_SDKBENCH_CANDIDATES=1 adds the candidate
//     settings to the other benchmarks too).
//   - BenchmarkColdClients, BenchmarkColdProcess: the cold path.
//
// Run it with the local stack's tools installed (make tools), from the
// repository root:
//
//	HERALD_MOTO_SERVER=$PWD/.venv/moto/bin/herald-moto \
//	  go test ./test/sdkbench -run '^$' -bench . -benchtime 2s -count 3
//
// docs/performance.md ("The AWS SDK's CPU per call") has the figures and
// what they decided.
package sdkbench
