package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
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

func TestDevEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev.env")
	if err := os.WriteFile(path, []byte("HERALD_MOTO_URL=http://127.0.0.1:4566\nHERALD_TOKEN=hrld_x=y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"HERALD_MOTO_URL": "http://127.0.0.1:4566", "HERALD_TOKEN": "hrld_x=y"}
	if got := devEnv(path); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := devEnv(filepath.Join(t.TempDir(), "missing")); len(got) != 0 {
		t.Errorf("missing file: got %v, want nothing", got)
	}
}

func TestSampleTokenIsWellFormed(t *testing.T) {
	if !herald.WellFormedToken(sampleToken) {
		t.Errorf("%q is not a well-formed token: the API would refuse the sample events", sampleToken)
	}
}
