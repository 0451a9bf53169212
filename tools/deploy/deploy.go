package deploy

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"gopkg.in/yaml.v3"
)

// Variants are the parameter values of each template variant CI checks:
// the defaults, and every option on. The values are shaped like real ones,
// since the parameters' AllowedPattern checks them.
var Variants = map[string]map[string]string{
	"default": {},
	"all-on": {
		"AlarmTopicArn":    "arn:aws:sns:us-east-1:123456789012:herald-alarms",
		"Tracing":          "Active",
		"IngestInvokerArn": "arn:aws:iam::123456789012:role/cms",
		"StaticEgressIp":   "true",
		"BillingMode":      "PROVISIONED",
	},
}

// WithDefaults returns a template with the given parameters' defaults
// replaced. Only the text of those values changes: comments (checkov's
// skip comments among them), layout and every other line stay byte for
// byte, so a variant is checked exactly as the template is. Each default
// must be a scalar on one line.
func WithDefaults(template []byte, values map[string]string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(template, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if len(doc.Content) != 1 {
		return nil, fmt.Errorf("parse template: not one YAML document")
	}
	params := mappingValue(doc.Content[0], "Parameters")
	if params == nil {
		return nil, fmt.Errorf("the template has no Parameters")
	}
	lines := bytes.SplitAfter(template, []byte("\n"))
	for _, name := range slices.Sorted(maps.Keys(values)) {
		p := mappingValue(params, name)
		if p == nil {
			return nil, fmt.Errorf("the template has no parameter %s", name)
		}
		def := mappingValue(p, "Default")
		switch {
		case def == nil || def.Kind != yaml.ScalarNode || def.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
			return nil, fmt.Errorf("parameter %s: its Default is not a one-line scalar", name)
		case p.Style&yaml.FlowStyle != 0:
			return nil, fmt.Errorf("parameter %s: written as a flow mapping ({...}); give it one line per property", name)
		case def.LineComment != "":
			return nil, fmt.Errorf("parameter %s: its Default line has a comment, which replacing the value would drop", name)
		}
		// The value runs from its column to the end of its line.
		line := lines[def.Line-1]
		eol := line[len(bytes.TrimSuffix(line, []byte("\n"))):]
		lines[def.Line-1] = slices.Concat(line[:def.Column-1], []byte(strconv.Quote(values[name])), eol)
	}
	out := bytes.Join(lines, nil)
	if err := checkDefaults(out, values); err != nil {
		return nil, err
	}
	return out, nil
}

// checkDefaults reads the defaults back, in case a value's line held more
// than the value (a comment, say).
func checkDefaults(template []byte, values map[string]string) error {
	var t struct {
		Parameters map[string]struct {
			Default string `yaml:"Default"`
		} `yaml:"Parameters"`
	}
	if err := yaml.Unmarshal(template, &t); err != nil {
		return fmt.Errorf("read the variant back: %w", err)
	}
	for name, want := range values {
		if got := t.Parameters[name].Default; got != want {
			return fmt.Errorf("parameter %s: the variant's default reads %q, not %q", name, got, want)
		}
	}
	return nil
}

// mappingValue returns the value of key in a YAML mapping node, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// DescribeStacksAPI is the part of CloudFormation the ops tools use.
type DescribeStacksAPI interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, opts ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

var _ DescribeStacksAPI = (*cloudformation.Client)(nil)

// StackOutputs reads the named outputs of a deployed stack; each must be
// there.
func StackOutputs(ctx context.Context, cf DescribeStacksAPI, stack string, keys ...string) (map[string]string, error) {
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		return nil, fmt.Errorf("describe stack %s: %w", stack, err)
	}
	if len(out.Stacks) != 1 {
		return nil, fmt.Errorf("describe stack %s: %d stacks answered", stack, len(out.Stacks))
	}
	got := make(map[string]string, len(keys))
	for _, o := range out.Stacks[0].Outputs {
		if k := aws.ToString(o.OutputKey); slices.Contains(keys, k) {
			got[k] = aws.ToString(o.OutputValue)
		}
	}
	for _, k := range keys {
		if got[k] == "" {
			return nil, fmt.Errorf("stack %s has no %s output; is it a Herald stack of this version?", stack, k)
		}
	}
	return got, nil
}
