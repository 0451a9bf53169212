// Command testfn is the local stack's test function: a bootstrap that does
// what its input asks (succeed, fail some messages of a batch, return an
// error, crash, sleep), so that tests can watch the emulator, the gateway
// and the poller react. Every invocation is appended as a JSON line to the
// file named by $TESTFN_RECORD, if set.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

var (
	mu          sync.Mutex
	invocations int
)

func main() {
	fmt.Fprintln(os.Stderr, "testfn: init")
	lambda.Start(handle)
}

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	mu.Lock()
	invocations++
	n := invocations
	mu.Unlock()
	record(n, raw)

	var probe struct {
		Records []json.RawMessage `json:"Records"`
		Version string            `json:"version"`
		Herald  string            `json:"herald"`
		Mode    string            `json:"mode"`
		Millis  int               `json:"ms"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("decode input: %w", err)
	}
	switch {
	case probe.Records != nil:
		var ev events.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("decode SQS event: %w", err)
		}
		return handleSQS(ev)
	case probe.Version == "2.0":
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("decode HTTP event: %w", err)
		}
		return handleHTTP(ev)
	case probe.Herald == "sweep":
		return map[string]bool{"swept": true}, nil
	}
	return act(probe.Mode, time.Duration(probe.Millis)*time.Millisecond)
}

// act does what a direct invocation asks.
func act(mode string, sleep time.Duration) (any, error) {
	switch mode {
	case "error":
		return nil, errors.New("testfn failed on purpose")
	case "crash":
		fmt.Fprintln(os.Stderr, "testfn: crashing on purpose")
		os.Exit(3)
	case "panic":
		panic("testfn panicked on purpose")
	case "sleep":
		time.Sleep(sleep)
	case "spin": // use this much CPU, however long a busy machine takes to give it
		for start := ownCPU(); ownCPU()-start < sleep; {
		}
	}
	return map[string]any{"ok": true, "pid": os.Getpid(), "env": envMap()}, nil
}

// handleSQS acts on each message's body: {"mode": "ok" | "fail" | "error" |
// "crash" | "error-once" | "crash-once" | "slow"}. "fail" reports the
// message in batchItemFailures; the -once modes act only on the first
// receive; "slow" takes two seconds. A crash
// or error anywhere fails the whole batch.
func handleSQS(ev events.SQSEvent) (events.SQSEventResponse, error) {
	var res events.SQSEventResponse
	var failErr error
	for _, m := range ev.Records {
		var body struct{ Mode string }
		_ = json.Unmarshal([]byte(m.Body), &body)
		first := m.Attributes["ApproximateReceiveCount"] == "1"
		switch body.Mode {
		case "crash", "crash-once":
			if body.Mode == "crash" || first {
				fmt.Fprintln(os.Stderr, "testfn: crashing on", m.MessageId)
				os.Exit(2)
			}
		case "error", "error-once":
			if body.Mode == "error" || first {
				failErr = fmt.Errorf("testfn failed on message %s", m.MessageId)
			}
		case "slow":
			time.Sleep(2 * time.Second)
		case "fail":
			res.BatchItemFailures = append(res.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	if failErr != nil {
		return events.SQSEventResponse{}, failErr
	}
	return res, nil
}

// handleHTTP answers by path: /error, /crash, /sleep?ms=N, /binary, /raw,
// and anything else echoes the request with a 201.
func handleHTTP(ev events.APIGatewayV2HTTPRequest) (any, error) {
	switch ev.RawPath {
	case "/error":
		return nil, errors.New("testfn failed on purpose")
	case "/crash":
		fmt.Fprintln(os.Stderr, "testfn: crashing on purpose")
		os.Exit(3)
	case "/sleep":
		ms, _ := strconv.Atoi(ev.QueryStringParameters["ms"])
		time.Sleep(time.Duration(ms) * time.Millisecond)
	case "/binary":
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		return events.APIGatewayV2HTTPResponse{
			StatusCode:      200,
			Headers:         map[string]string{"Content-Type": "application/octet-stream"},
			Body:            base64.StdEncoding.EncodeToString(b),
			IsBase64Encoded: true,
		}, nil
	case "/raw":
		return map[string]any{"plain": "document"}, nil
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, fmt.Errorf("decode body: %w", err)
		}
		body = b
	}
	echo, _ := json.Marshal(map[string]any{
		"event":   ev,
		"body":    body, // []byte: base64 in JSON, so binary survives
		"env":     envMap(),
		"pid":     os.Getpid(),
		"started": time.Now().UnixMilli(),
	})
	return events.APIGatewayV2HTTPResponse{
		StatusCode: 201,
		Headers:    map[string]string{"Content-Type": "application/json", "X-Echo": "yes"},
		Cookies:    []string{"a=1; Path=/", "b=2"},
		Body:       string(echo),
	}, nil
}

func envMap() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

// record appends one line per invocation to $TESTFN_RECORD.
func record(n int, raw json.RawMessage) {
	path := os.Getenv("TESTFN_RECORD")
	if path == "" {
		return
	}
	line, _ := json.Marshal(map[string]any{
		"function":   os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
		"pid":        os.Getpid(),
		"invocation": n,
		"input":      raw,
	})
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644) // #nosec G703 G304 G302 -- a test fixture appending to the record file its test names
	if err != nil {
		fmt.Fprintln(os.Stderr, "testfn: record:", err)
		return
	}
	defer f.Close()
	_, _ = f.Write(append(line, '\n'))
}

// ownCPU is the CPU time this process has used.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
