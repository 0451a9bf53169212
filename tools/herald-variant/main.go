// Command herald-variant writes a copy of template.yaml with other
// parameter defaults, for the checks that read only a template file
// (sam validate --lint, checkov, sam build):
//
//	herald-variant -variant all-on -o .build/variants/all-on.yaml
//	herald-variant -set StaticEgressIp=true -o .build/variants/egress.yaml
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/heraldhq/herald/tools/command"
	"github.com/heraldhq/herald/tools/deploy"
	"github.com/heraldhq/herald/tools/localstack"
)

func main() {
	command.Main("herald-variant", func(_ context.Context, args []string, _, stderr io.Writer) error { return run(args, stderr) })
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("herald-variant", flag.ContinueOnError)
	variant := fs.String("variant", "default", "named variant: "+strings.Join(slices.Sorted(maps.Keys(deploy.Variants)), ", "))
	out := fs.String("o", "", "file to write (required)")
	set := map[string]string{}
	fs.Func("set", "Name=Value: one more parameter default (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("want Name=Value, not %q", s)
		}
		set[k] = v
		return nil
	})
	if err := command.Parse(fs, args, stderr, func() bool { return *out != "" && deploy.Variants[*variant] != nil }); err != nil {
		return err
	}
	values := maps.Clone(deploy.Variants[*variant])
	maps.Copy(values, set) // -set wins over the variant
	root, err := localstack.RepoRoot()
	if err != nil {
		return err
	}
	src, err := os.ReadFile(filepath.Join(root, "template.yaml")) // #nosec G304 -- the checkout's own template
	if err != nil {
		return fmt.Errorf("read template: %w", err)
	}
	variantText, err := deploy.WithDefaults(src, values)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o750); err != nil {
		return fmt.Errorf("create the variant's directory: %w", err)
	}
	if err := os.WriteFile(*out, variantText, 0o600); err != nil { // #nosec G703 -- a developer tool writing the file it is told to
		return fmt.Errorf("write the variant: %w", err)
	}
	return nil
}
