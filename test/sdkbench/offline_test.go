package sdkbench_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/heraldhq/herald/test/benchkit"
)

// BenchmarkSDKOffline makes each operation with the clients of each setup,
// but their HTTP client answers every request with the response moto gave
// to the first one, headers (and DynamoDB's CRC32) included. What is left is
// the SDK's own work per call: the middleware stack, endpoint resolution,
// signing, retry bookkeeping, serialising the request and deserialising and
// checking the response. BenchmarkSDK's conn=keepalive figure less this one
// is net/http, the socket and the runtime's waiting.
func BenchmarkSDKOffline(b *testing.B) {
	for _, op := range operations {
		b.Run("op="+op.name, func(b *testing.B) {
			for _, s := range setups {
				b.Run("config="+s.name, func(b *testing.B) {
					f := newFixture(b, connClose)
					ctx := context.Background()
					rec := &replayClient{next: awshttp.NewBuildableClient()}
					c, err := s.build(ctx, rec)
					if err != nil {
						b.Fatalf("build clients: %v", err)
					}
					if err := op.call(ctx, c, f); err != nil {
						b.Fatalf("recorded %s: %v", op.name, err)
					}
					if err := rec.replay(); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					cpu0 := benchkit.ProcessCPU()
					for b.Loop() {
						if err := op.call(ctx, c, f); err != nil {
							b.Fatalf("%s: %v", op.name, err)
						}
					}
					reportMS(b, benchkit.ProcessCPU()-cpu0, "cpu-ms/op")
					if got := rec.replayed(); got < b.N {
						b.Fatalf("%d responses replayed for %d calls: a call did not reach the HTTP client", got, b.N)
					}
				})
			}
		})
	}
}

// replayClient passes requests to next and keeps the last response, until
// replay is called; from then on it answers every request with that
// response, without a network.
type replayClient struct {
	next aws.HTTPClient

	mu      sync.Mutex
	saved   *http.Response
	body    []byte
	req     *http.Request // the last request recorded, its body in reqBody
	reqBody []byte
	frozen  bool
	count   int
}

func (c *replayClient) Do(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	frozen := c.frozen
	c.mu.Unlock()
	if !frozen {
		if req.Body != nil {
			reqBody, err := io.ReadAll(req.Body)
			if err != nil {
				return nil, fmt.Errorf("record request: %w", err)
			}
			_ = req.Body.Close()
			req.Body = io.NopCloser(bytes.NewReader(reqBody))
			c.mu.Lock()
			c.req, c.reqBody = req.Clone(context.Background()), reqBody
			c.mu.Unlock()
		}
		resp, err := c.next.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("record response: %w", err)
		}
		c.mu.Lock()
		c.saved, c.body = resp, body
		c.mu.Unlock()
		return c.respond(req, resp, body), nil
	}
	// A transport sends the whole body: read it as one would.
	if req.Body != nil {
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		_ = req.Body.Close()
	}
	c.mu.Lock()
	c.count++
	resp, body := c.saved, c.body
	c.mu.Unlock()
	return c.respond(req, resp, body), nil
}

func (c *replayClient) respond(req *http.Request, resp *http.Response, body []byte) *http.Response {
	return &http.Response{
		Status: resp.Status, StatusCode: resp.StatusCode, Proto: resp.Proto, ProtoMajor: resp.ProtoMajor, ProtoMinor: resp.ProtoMinor,
		Header: resp.Header.Clone(), ContentLength: int64(len(body)),
		Body: io.NopCloser(bytes.NewReader(body)), Request: req,
	}
}

// replay freezes the recording: it fails unless a successful response was
// recorded.
func (c *replayClient) replay() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.saved == nil || c.saved.StatusCode != http.StatusOK {
		return fmt.Errorf("no successful response recorded")
	}
	c.frozen = true
	return nil
}

func (c *replayClient) replayed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}
