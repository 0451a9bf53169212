package main

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/heraldhq/herald/shared/herald"
)

func TestUsage(t *testing.T) {
	for name, args := range map[string][]string{
		"no command":           nil,
		"unknown command":      {"down"},
		"invoke without flags": {"invoke"},
		"invoke without event": {"invoke", "-function", "IngestFunction"},
		"bad flag":             {"up", "-nope"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, &stdout, &stderr); !errors.Is(err, errUsage) {
			t.Errorf("%s: got %v, want a usage error", name, err)
		}
		if stderr.Len() == 0 {
			t.Errorf("%s: nothing told the user how to call it", name)
		}
	}
}

func TestSampleTokenIsWellFormed(t *testing.T) {
	if !herald.WellFormedToken(sampleToken) {
		t.Errorf("%q is not a well-formed token: the API would refuse the sample events", sampleToken)
	}
}

// TestMetricsLinesAreShownInShort: `make dev` shows the functions' metrics
// as CloudWatch reads them, and passes their other lines through.
func TestMetricsLinesAreShownInShort(t *testing.T) {
	var out bytes.Buffer
	l := &functionLogs{out: &out}
	in := `[DeliveryFunction#0] {"Deliveries":3,"Function":"DeliveryFunction","Outcome":"success",` +
		`"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"Herald","Dimensions":[["Function"],["Function","Outcome"]],` +
		`"Metrics":[{"Name":"Deliveries","Unit":"Count"}]}]}}` + "\n" +
		`[DeliveryFunction#0] {"time":"t","level":"INFO","msg":"attempt"}` + "\n"
	if _, err := l.Write([]byte(in)); err != nil {
		t.Fatal(err)
	}
	want := "[DeliveryFunction#0] metrics: DeliveryFunction Deliveries{success}=3\n" +
		`[DeliveryFunction#0] {"time":"t","level":"INFO","msg":"attempt"}` + "\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}
