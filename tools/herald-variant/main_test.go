package main

import (
	"bytes"
	"errors"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/tools/deploy"
	"github.com/heraldhq/herald/tools/localstack"
)

func TestWritesTheVariant(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sub", "v.yaml")
	if err := run([]string{"-variant", "all-on", "-set", "Tracing=Disabled", "-o", out}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	got, err := localstack.LoadTemplate(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	maps.Copy(want, deploy.Variants["all-on"])
	want["Tracing"] = "Disabled" // -set wins over the variant
	for k, v := range want {
		if d := got.Parameters[k].Default; d != v {
			t.Errorf("%s: got default %v, want %q", k, d, v)
		}
	}
}

func TestVariantErrors(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		args []string
		help bool
	}{
		"no -o":             {[]string{"-variant", "all-on"}, true},
		"unknown variant":   {[]string{"-variant", "none", "-o", filepath.Join(dir, "a.yaml")}, true},
		"bad -set":          {[]string{"-set", "NoEquals", "-o", filepath.Join(dir, "b.yaml")}, false},
		"unknown parameter": {[]string{"-set", "Nope=1", "-o", filepath.Join(dir, "c.yaml")}, false},
	} {
		err := run(tc.args, &bytes.Buffer{})
		if err == nil || errors.Is(err, flag.ErrHelp) != tc.help {
			t.Errorf("%s: got %v, want an error (usage: %v)", name, err, tc.help)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed run wrote %d files", len(entries))
	}
}
