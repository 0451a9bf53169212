package chaos

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// AWSFaults are the rates (0 to 1, per request) at which the proxy in front
// of moto answers for it. Rates add up: their sum must not pass 1.
type AWSFaults struct {
	Throttle float64 // 400 ProvisionedThroughputExceededException (DynamoDB) or ThrottlingException
	Internal float64 // 500 InternalServerError / InternalFailure, the request not applied
	// Ambiguous forwards the request, so moto applies it, then answers 500
	// anyway: the caller cannot tell whether its write happened, as after a
	// timeout on AWS.
	Ambiguous float64
	Slow      float64       // forwarded after a delay of up to SlowMax
	SlowMax   time.Duration // 1 s if 0
}

// FaultProxy is an HTTP proxy in front of moto that injects AWS errors and
// latency into the JSON protocol both DynamoDB and SQS speak with
// aws-sdk-go-v2 (X-Amz-Target "DynamoDB_20120810.<Op>" or "AmazonSQS.<Op>").
// Requests without an X-Amz-Target pass untouched. It counts what it did,
// and remembers which call ids appeared in a request it faulted, so that a
// duplicate send can be traced to a fault.
type FaultProxy struct {
	URL string

	faults AWSFaults
	proxy  *httputil.ReverseProxy
	server *http.Server

	mu      sync.Mutex
	rng     *rand.Rand
	counts  map[string]int  // "<service>.<Op> <fault>"
	touched map[string]bool // call ids in a faulted request
}

// StartFaultProxy listens on a free port of 127.0.0.1 and forwards to motoURL.
func StartFaultProxy(motoURL string, faults AWSFaults, seed uint64) (*FaultProxy, error) {
	if sum := faults.Throttle + faults.Internal + faults.Ambiguous + faults.Slow; sum > 1 {
		return nil, fmt.Errorf("fault rates add up to %.2f; at most 1", sum)
	}
	faults.SlowMax = cmp.Or(faults.SlowMax, time.Second)
	target, err := url.Parse(motoURL)
	if err != nil {
		return nil, fmt.Errorf("moto URL %q: %w", motoURL, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fault proxy: %w", err)
	}
	p := &FaultProxy{
		URL: "http://" + l.Addr().String(), faults: faults,
		rng:    rand.New(rand.NewPCG(seed, 1)), // #nosec G404 -- seeded so a chaos run can be repeated; not a secret
		counts: map[string]int{}, touched: map[string]bool{},
	}
	p.proxy = httputil.NewSingleHostReverseProxy(target)
	// A caller that gave up (its SDK timed out, or its process was
	// killed) is part of the run, not news.
	p.proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		w.WriteHeader(http.StatusBadGateway)
	}
	p.server = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.server.Serve(l) }()
	return p, nil
}

// Close stops the proxy.
func (p *FaultProxy) Close() { _ = p.server.Close() }

// A fault is what the proxy does to a request, by the name it counts.
type fault string

const (
	noFault   fault = ""
	throttle  fault = "throttle"
	internal  fault = "internal"
	ambiguous fault = "ambiguous"
	slow      fault = "slow"
)

func (p *FaultProxy) draw() (fault, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	x, f := p.rng.Float64(), p.faults
	for _, c := range []struct {
		rate float64
		f    fault
	}{{f.Throttle, throttle}, {f.Internal, internal}, {f.Ambiguous, ambiguous}, {f.Slow, slow}} {
		if x < c.rate {
			return c.f, time.Duration(p.rng.Int64N(int64(f.SlowMax)))
		}
		x -= c.rate
	}
	return noFault, 0
}

// callIDs finds the ULIDs in a request: call ids, in keys, job bodies and
// conditions.
var callIDs = regexp.MustCompile(`[0-9A-HJKMNP-TV-Z]{26}`)

// awsErrors are what each fault that answers for moto answers: its status,
// the error code each service's SDK reads, and the message.
var awsErrors = map[fault]struct {
	status        int
	dynamodb, sqs string
	msg           string
}{
	throttle:  {http.StatusBadRequest, "ProvisionedThroughputExceededException", "ThrottlingException", "rate exceeded"},
	internal:  {http.StatusInternalServerError, "InternalServerError", "InternalFailure", "internal failure"},
	ambiguous: {http.StatusInternalServerError, "InternalServerError", "InternalFailure", "internal failure after the request was applied"},
}

func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	service, op, ok := strings.Cut(target, ".")
	if !ok {
		p.proxy.ServeHTTP(w, r)
		return
	}
	if strings.HasPrefix(service, "DynamoDB") {
		service = "dynamodb"
	} else {
		service = "sqs"
	}
	f, delay := p.draw()
	if f == noFault {
		p.proxy.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read request", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	p.mu.Lock()
	p.counts[service+"."+op+" "+string(f)]++
	if f != slow {
		for _, id := range callIDs.FindAll(body, -1) {
			p.touched[string(id)] = true
		}
	}
	p.mu.Unlock()

	switch f {
	case slow:
		select {
		case <-time.After(delay):
			p.proxy.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
		return
	case ambiguous:
		p.proxy.ServeHTTP(httptest.NewRecorder(), r) // moto applies it; its answer is dropped
	}
	// Answered as the JSON protocol does: the error code in __type (and,
	// for SQS, the x-amzn-query-error header its JSON protocol adds for
	// clients of the query protocol's codes).
	e := awsErrors[f]
	code, prefix := e.dynamodb, "com.amazonaws.dynamodb.v20120810#"
	if service == "sqs" {
		code, prefix = e.sqs, "com.amazonaws.sqs#"
		w.Header().Set("x-amzn-query-error", code+";Sender")
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(e.status)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, prefix+code, "injected: "+e.msg)
}

// Counts returns how many faults of each kind the proxy injected, by
// "<service>.<Op> <fault>".
func (p *FaultProxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts)
}

// Touched reports whether a faulted request named the call id.
func (p *FaultProxy) Touched(callID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.touched[callID]
}
