package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// apiClient talks JSON:API to Herald's API through the local gateway, as one
// project's token.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

func newAPIClient(base, token string, conns int) *apiClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = conns, conns
	return &apiClient{base: base, token: token, http: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// answer is one API response, with how long it took.
type answer struct {
	status  int
	body    []byte
	elapsed time.Duration
}

func (c *apiClient) do(ctx context.Context, method, path string, body any) (answer, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return answer{}, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	res, err := c.http.Do(req)
	if err != nil {
		return answer{elapsed: time.Since(start)}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, body: raw, elapsed: time.Since(start)}
	if err != nil {
		return a, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	return a, nil
}

// webhookAttributes are those of a webhook that fires on every record
// update, to url.
func webhookAttributes(name, url string) map[string]any {
	return map[string]any{
		"name": name, "url": url, "custom_payload": nil, "headers": map[string]any{},
		"http_basic_user": nil, "http_basic_password": nil,
		"events": []any{map[string]any{"entity_type": "item", "event_types": []any{"update"}}},
	}
}

// createWebhook creates a webhook and returns its id.
func (c *apiClient) createWebhook(ctx context.Context, attrs map[string]any) (string, answer, error) {
	a, err := c.do(ctx, http.MethodPost, "/webhooks", map[string]any{"data": map[string]any{"type": "webhook", "attributes": attrs}})
	if err != nil {
		return "", a, err
	}
	if a.status != http.StatusCreated {
		return "", a, fmt.Errorf("create webhook %v: %d %s", attrs["name"], a.status, a.body)
	}
	var out struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(a.body, &out); err != nil || out.Data.ID == "" {
		return "", a, fmt.Errorf("create webhook %v: no id in %s", attrs["name"], a.body)
	}
	return out.Data.ID, a, nil
}
