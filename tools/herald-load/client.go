package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"time"
)

// apiClient talks JSON:API to Herald's API through the local gateway, as one
// project's token, and holds what the API run's clients share: a webhook
// every client updates (hot), and calls to read.
type apiClient struct {
	base   string
	header http.Header
	http   *http.Client
	hot    string
	calls  []string
}

func newAPIClient(base, token, hot string, conns int) *apiClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = conns, conns
	header := http.Header{"Authorization": {"Bearer " + token}, "Content-Type": {"application/json"}}
	return &apiClient{base: base, header: header, hot: hot, http: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

func (c *apiClient) do(ctx context.Context, method, path string, body any) (answer, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return answer{}, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
	}
	a, err := roundTrip(ctx, c.http, method, c.base+path, raw, c.header)
	if err != nil {
		return a, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return a, nil
}

// answer is one response, with how long it took; status 0 if none came.
type answer struct {
	status  int
	body    []byte
	elapsed time.Duration
}

// roundTrip makes one request and reads its answer whole.
func roundTrip(ctx context.Context, c *http.Client, method, url string, body []byte, header http.Header) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	maps.Copy(req.Header, header)
	start := time.Now()
	res, err := c.Do(req)
	if err != nil {
		return answer{elapsed: time.Since(start)}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, body: raw, elapsed: time.Since(start)}
	if err != nil {
		return a, fmt.Errorf("read the answer: %w", err)
	}
	return a, nil
}
