package localstack

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/heraldhq/herald/shared/herald"
)

// API Gateway HTTP API's limits.
const (
	MaxRequestBody     = 10 << 20         // bytes; larger requests get 413
	IntegrationTimeout = 30 * time.Second // then 503, while the function runs on
)

// Invoker runs a function once: a Pool, or a stand-in in tests.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

var _ Invoker = (*Pool)(nil)

// Gateway serves HTTP as API Gateway's HTTP API does in front of a Lambda
// proxy integration with payload format 2.0 and a $default route: each
// request becomes an event, and the function's answer becomes the response.
type Gateway struct {
	Invoker      Invoker
	Timeout      time.Duration // integration timeout; IntegrationTimeout if 0
	AccountID    string
	Clock        herald.Clock  // herald.SystemClock if nil
	NewRequestID func() string // API Gateway-like ids if nil
	Logger       *slog.Logger  // one line a request; nil logs nothing
}

// answer writes one of API Gateway's own answers, {"message": the status
// text}, and returns its status.
func answer(w http.ResponseWriter, status int) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"message":%q}`, http.StatusText(status))
	return status
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	requestID := g.requestID()
	w.Header().Set("Apigw-Requestid", requestID)
	status, outcome := g.serve(w, r, requestID)
	if g.Logger != nil {
		g.Logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", status,
			"outcome", outcome, "request_id", requestID, "duration_ms", time.Since(start).Milliseconds())
	}
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, requestID string) (int, string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return answer(w, http.StatusRequestEntityTooLarge), "request body over the limit"
	}
	if err != nil {
		return 0, "reading the request failed: " + err.Error()
	}
	payload, err := marshalEvent(g.Event(r, body, requestID))
	if err != nil {
		return answer(w, http.StatusInternalServerError), err.Error()
	}
	ctx, cancel := context.WithTimeout(r.Context(), cmp.Or(g.Timeout, IntegrationTimeout))
	defer cancel()
	result, err := g.Invoker.Invoke(ctx, payload)
	switch {
	case err != nil && ctx.Err() != nil && r.Context().Err() == nil:
		return answer(w, http.StatusServiceUnavailable), "integration timeout"
	case err != nil:
		return answer(w, http.StatusInternalServerError), err.Error()
	}
	status, err := writeResponse(w, result)
	if err != nil {
		return answer(w, http.StatusInternalServerError), "malformed function response: " + err.Error()
	}
	return status, "ok"
}

func (g *Gateway) requestID() string {
	if g.NewRequestID != nil {
		return g.NewRequestID()
	}
	// API Gateway's look: 16 characters of base64.
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on Linux
	return base64.StdEncoding.EncodeToString(b[:])
}

// HTTPAPIEvent is an HTTP API payload format 2.0 event as API Gateway sends
// it without authorizers or mutual TLS. It decodes into aws-lambda-go's
// events.APIGatewayV2HTTPRequest; it is its own type so that it carries no
// empty "authentication" the real one would not.
type HTTPAPIEvent struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	RequestContext        struct {
		AccountID    string                                               `json:"accountId"`
		APIID        string                                               `json:"apiId"`
		DomainName   string                                               `json:"domainName"`
		DomainPrefix string                                               `json:"domainPrefix"`
		HTTP         events.APIGatewayV2HTTPRequestContextHTTPDescription `json:"http"`
		RequestID    string                                               `json:"requestId"`
		RouteKey     string                                               `json:"routeKey"`
		Stage        string                                               `json:"stage"`
		Time         string                                               `json:"time"`
		TimeEpoch    int64                                                `json:"timeEpoch"`
	} `json:"requestContext"`
	Body            string `json:"body,omitempty"`
	IsBase64Encoded bool   `json:"isBase64Encoded"`
}

// marshalEvent encodes an event as API Gateway does, without escaping &, <
// and > (a query string keeps its &).
func marshalEvent(ev HTTPAPIEvent) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
}

// Event turns a request into an HTTP API payload format 2.0 event.
func (g *Gateway) Event(r *http.Request, body []byte, requestID string) HTTPAPIEvent {
	now := cmp.Or[herald.Clock](g.Clock, herald.SystemClock{}).Now().UTC()
	sourceIP, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		sourceIP = r.RemoteAddr
	}
	domain, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		domain, port = r.Host, "80"
	}
	ev := HTTPAPIEvent{
		Version:        "2.0",
		RouteKey:       "$default",
		RawPath:        r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery,
		Headers:        map[string]string{},
	}
	rc := &ev.RequestContext
	rc.RouteKey = "$default"
	rc.AccountID = g.AccountID
	rc.Stage = "$default"
	rc.RequestID = requestID
	rc.APIID = "local"
	rc.Time = now.Format("02/Jan/2006:15:04:05 -0700")
	rc.TimeEpoch = now.UnixMilli()
	rc.HTTP = events.APIGatewayV2HTTPRequestContextHTTPDescription{
		Method:    r.Method,
		Path:      r.URL.Path,
		Protocol:  r.Proto,
		SourceIP:  sourceIP,
		UserAgent: r.UserAgent(),
	}
	// Header names are lowercase, repeated values joined with commas; cookies
	// leave the headers for their own list.
	for name, values := range r.Header {
		if lower := strings.ToLower(name); lower != "cookie" {
			ev.Headers[lower] = strings.Join(values, ",")
		}
	}
	for _, v := range r.Header.Values("Cookie") {
		for c := range strings.SplitSeq(v, ";") {
			if c = strings.TrimSpace(c); c != "" {
				ev.Cookies = append(ev.Cookies, c)
			}
		}
	}
	ev.Headers["host"] = r.Host
	if _, ok := ev.Headers["content-length"]; !ok && len(body) > 0 {
		ev.Headers["content-length"] = strconv.Itoa(len(body))
	}
	if prior := ev.Headers["x-forwarded-for"]; prior != "" {
		ev.Headers["x-forwarded-for"] = prior + ", " + sourceIP
	} else {
		ev.Headers["x-forwarded-for"] = sourceIP
	}
	ev.Headers["x-forwarded-proto"] = "http"
	ev.Headers["x-forwarded-port"] = port
	rc.DomainName = domain
	rc.DomainPrefix = domain
	if net.ParseIP(domain) == nil {
		rc.DomainPrefix, _, _ = strings.Cut(domain, ".")
	}
	if r.URL.RawQuery != "" {
		ev.QueryStringParameters = map[string]string{}
		for k, vs := range r.URL.Query() {
			ev.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	if len(body) > 0 {
		if isTextBody(r.Header.Get("Content-Type"), body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

// isTextBody reports whether API Gateway would pass a body as it is rather
// than in base64: text media types, JSON, XML and JavaScript that are valid
// UTF-8. Everything else, a form post included, arrives base64-encoded, as
// in `sam local generate-event apigateway http-api-proxy`.
func isTextBody(contentType string, body []byte) bool {
	if contentType == "" || !utf8.Valid(body) {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") ||
		mt == "application/json" || strings.HasSuffix(mt, "+json") ||
		mt == "application/xml" || strings.HasSuffix(mt, "+xml") ||
		mt == "application/javascript"
}

// writeResponse writes a function's answer as API Gateway does for payload
// format 2.0: a document with a statusCode is a response; any other JSON is
// the body of a 200 application/json response.
// Nothing is written when it returns an error.
func writeResponse(w http.ResponseWriter, answer []byte) (int, error) {
	var probe map[string]json.RawMessage
	var res events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(answer, &probe); err != nil || probe["statusCode"] == nil {
		if !json.Valid(answer) {
			return 0, fmt.Errorf("not JSON")
		}
		res = events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Body: string(answer),
			Headers: map[string]string{"Content-Type": "application/json"}}
	} else if err := json.Unmarshal(answer, &res); err != nil {
		return 0, err
	}
	if res.StatusCode < 100 || res.StatusCode > 599 {
		return 0, fmt.Errorf("statusCode %d", res.StatusCode)
	}
	body := []byte(res.Body)
	if res.IsBase64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(res.Body)
		if err != nil {
			return 0, fmt.Errorf("body is not base64: %w", err)
		}
		body = decoded
	}
	// Payload format 2.0 has no multiValueHeaders: a header's values come
	// joined in headers, cookies in their own list.
	h := w.Header()
	for k, v := range res.Headers {
		h.Set(k, v)
	}
	for _, c := range res.Cookies {
		h.Add("Set-Cookie", c)
	}
	if h.Get("Content-Type") == "" {
		// API Gateway adds none; keep Go from sniffing one.
		h["Content-Type"] = nil
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(body)
	return res.StatusCode, nil
}
