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
