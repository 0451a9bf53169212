package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/tools/localstack"
)

func TestWithDefaults(t *testing.T) {
	src := []byte(`# head comment
Parameters:
  Plain:
    Type: String
    Default: off
  Quoted:
    Type: String
    Default: ""
  Commented:
    Type: String
    Default: x # the value runs to the end of its line
  Number: { Type: Number, Default: 30 }
  Other:
    Type: String
    Default: same
Resources:
  X:
    # checkov:skip=CKV_X:a reason
    Type: T
`)
	for name, tc := range map[string]struct {
		values  map[string]string
		want    []string // lines the output must hold
		wantErr string
	}{
		"plain":        {values: map[string]string{"Plain": "on"}, want: []string{`    Default: "on"`, "    Default: same", "    # checkov:skip=CKV_X:a reason", "# head comment"}},
		"quoted":       {values: map[string]string{"Quoted": `a"b`}, want: []string{`    Default: "a\"b"`}},
		"flow mapping": {values: map[string]string{"Number": "7"}, wantErr: "flow mapping"},
		"line comment": {values: map[string]string{"Commented": "y"}, wantErr: "comment"},
		"unknown":      {values: map[string]string{"Nope": "x"}, wantErr: "no parameter Nope"},
		"none":         {values: nil, want: []string{"    Default: off"}},
	} {
		got, err := WithDefaults(src, tc.values)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: got error %v, want one containing %q", name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		lines := strings.Split(string(got), "\n")
		for _, w := range tc.want {
			if !slices.Contains(lines, w) {
				t.Errorf("%s: output lacks the line %q:\n%s", name, w, got)
			}
		}
		if n, m := bytes.Count(got, []byte("\n")), bytes.Count(src, []byte("\n")); n != m {
			t.Errorf("%s: got %d lines, want %d", name, n, m)
		}
	}
}

// The variants CI checks differ from template.yaml only in their options'
// Default lines, and each parses to the values asked for.
func TestVariantsOfTheTemplate(t *testing.T) {
	root, err := localstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range Variants {
		got, err := WithDefaults(src, values)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		a, b := strings.Split(string(src), "\n"), strings.Split(string(got), "\n")
		if len(a) != len(b) {
			t.Fatalf("%s: %d lines, want %d", name, len(b), len(a))
		}
		changed := 0
		for i := range a {
			if a[i] != b[i] {
				changed++
				if !strings.HasPrefix(strings.TrimSpace(b[i]), "Default: ") {
					t.Errorf("%s: line %d changed and is not a Default: %q", name, i+1, b[i])
				}
			}
		}
		if changed > len(values) {
			t.Errorf("%s: %d lines changed for %d values", name, changed, len(values))
		}
		tmpl, err := localstack.ParseTemplate(got)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for k, v := range values {
			if d := tmpl.Parameters[k].Default; d != v {
				t.Errorf("%s: %s default got %v, want %q", name, k, d, v)
			}
		}
	}
}
