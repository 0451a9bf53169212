package sdkbench_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/heraldhq/herald/test/benchkit"
)

// BenchmarkHTTPFloor sends the request the SDK sent for each operation
// (the same headers, signature and body) with a bare net/http client, and
// reads the answer: the least a call can cost the client over HTTP on this
// machine, whatever the SDK does. BenchmarkSDK's figure less this one is the
// SDK's share.
func BenchmarkHTTPFloor(b *testing.B) {
	for _, op := range operations {
		b.Run("op="+op.name, func(b *testing.B) {
			for _, conn := range []conn{connClose, connKeepAlive} {
				b.Run("conn="+string(conn), func(b *testing.B) {
					f := newFixture(b, conn)
					ctx := context.Background()
					rec := &replayClient{next: awshttp.NewBuildableClient()}
					c, err := defaultSetup.build(ctx, rec)
					if err != nil {
						b.Fatalf("build clients: %v", err)
					}
					if err := op.call(ctx, c, f); err != nil {
						b.Fatalf("recorded %s: %v", op.name, err)
					}
					transport := http.DefaultTransport.(*http.Transport).Clone()
					b.Cleanup(transport.CloseIdleConnections)
					client := &http.Client{Transport: transport}
					send := func() {
						req := rec.req.Clone(ctx)
						req.Body = io.NopCloser(bytes.NewReader(rec.reqBody))
						resp, err := client.Do(req)
						if err != nil {
							b.Fatalf("%s: %v", op.name, err)
						}
						n, err := io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if err != nil || resp.StatusCode != http.StatusOK || n == 0 {
							b.Fatalf("%s: status %d, %d bytes, %v", op.name, resp.StatusCode, n, err)
						}
					}
					send()
					b.ReportAllocs()
					cpu0, sys0 := benchkit.ProcessCPU(), systemCPU()
					for b.Loop() {
						send()
					}
					reportMS(b, benchkit.ProcessCPU()-cpu0, "cpu-ms/op")
					reportMS(b, systemCPU()-sys0, "sys-ms/op")
				})
			}
		})
	}
}
