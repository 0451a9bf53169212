package localstack

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Resource types the local stack creates or runs.
const (
	typeTable    = "AWS::DynamoDB::Table"
	typeQueue    = "AWS::SQS::Queue"
	typeFunction = "AWS::Serverless::Function"
)

// Template is a parsed SAM template. Intrinsic functions are kept in their
// long form ({"Ref": x}, {"Fn::GetAtt": [a, b]}, ...) whichever form the file
// used, and are evaluated by a resolver once the local resources exist. The
// resolver evaluates what Herald's template uses: Ref, Fn::GetAtt, Fn::Sub,
// Fn::If, Fn::Equals, Fn::Not, Fn::Select and Fn::GetAZs, with conditions
// and AWS::NoValue; anything else is an error that names it.
//
// goformation's intrinsics package (v7.14.9) does not fit: its Fn::Sub
// resolves ${X} through its own Ref and Fn::GetAtt, not the handlers a
// caller overrides, so "${Table.Arn}" comes out empty and "${AWS::Region}"
// as its fixed us-east-1, and its handlers cannot return an error.
type Template struct {
	Parameters map[string]Parameter `yaml:"Parameters"`
	Conditions map[string]any       `yaml:"Conditions"`
	Globals    struct {
		Function map[string]any `yaml:"Function"`
	} `yaml:"Globals"`
	Resources map[string]Resource `yaml:"Resources"`
	Outputs   map[string]Output   `yaml:"Outputs"`
}

// Parameter is a template parameter; locally it always takes its default.
type Parameter struct {
	Default       any    `yaml:"Default"`
	Description   string `yaml:"Description"`
	AllowedValues []any  `yaml:"AllowedValues"`
}

// Resource is one entry of the template's Resources.
type Resource struct {
	Type       string         `yaml:"Type"`
	Condition  string         `yaml:"Condition"`
	Properties map[string]any `yaml:"Properties"`
}

// Output is one entry of the template's Outputs.
type Output struct {
	Condition string `yaml:"Condition"`
	Value     any    `yaml:"Value"`
}

// LoadTemplate reads and parses a SAM template file.
func LoadTemplate(path string) (*Template, error) {
	data, err := os.ReadFile(path) // #nosec G304 -- reading the file the developer names is the point
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	t, err := ParseTemplate(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ParseTemplate parses a SAM template, turning CloudFormation's short-form
// tags (!Ref, !GetAtt, !Sub, !If, ...) into their long forms.
func ParseTemplate(data []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if err := expandShortForms(&doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	var t Template
	if err := doc.Decode(&t); err != nil {
		return nil, fmt.Errorf("decode template: %w", err)
	}
	if len(t.Resources) == 0 {
		return nil, fmt.Errorf("parse template: no Resources")
	}
	return &t, nil
}

// expandShortForms rewrites every node tagged !Name into the mapping
// {"Fn::Name": value} ({"Ref": value} and {"Condition": value} for those two),
// which is how CloudFormation defines the short forms.
func expandShortForms(n *yaml.Node) error {
	for _, c := range n.Content {
		if err := expandShortForms(c); err != nil {
			return err
		}
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	key := "Fn::" + name
	if name == "Ref" || name == "Condition" {
		key = name
	}
	value := *n
	value.Tag = "" // a sequence or mapping, as its kind says
	switch value.Kind {
	case yaml.ScalarNode:
		value.Tag = "!!str"
		if name == "GetAtt" {
			// !GetAtt Resource.Attribute is the list [Resource, Attribute].
			res, attr, ok := strings.Cut(value.Value, ".")
			if !ok {
				return fmt.Errorf("line %d: !GetAtt %q is not Resource.Attribute", n.Line, value.Value)
			}
			value = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: res},
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: attr},
			}}
		}
	case yaml.SequenceNode, yaml.MappingNode:
	default:
		return fmt.Errorf("line %d: unexpected %s", n.Line, n.Tag)
	}
	*n = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		&value,
	}}
	return nil
}

// LogicalIDs returns the logical ids of the resources of a type, sorted.
func (t *Template) LogicalIDs(resourceType string) []string {
	return logicalIDs(t.Resources, resourceType)
}

func logicalIDs(resources map[string]Resource, resourceType string) []string {
	var ids []string
	for id, r := range resources {
		if r.Type == resourceType {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// FunctionSpec is what the local stack needs to run one function.
type FunctionSpec struct {
	LogicalID  string
	Env        map[string]string // Globals' variables merged with the function's, resolved
	Timeout    time.Duration
	MemorySize int
	HTTPAPI    bool // has an HttpApi event: the gateway invokes it
	SQS        []SQSEventSpec
	Schedules  []ScheduleSpec
}

// SQSEventSpec is an SQS event source mapping.
type SQSEventSpec struct {
	Name                    string
	Queue                   string // the queue's logical id
	BatchSize               int
	Window                  time.Duration // MaximumBatchingWindowInSeconds
	ReportBatchItemFailures bool
	MaximumConcurrency      int
}

// ScheduleSpec is a Schedule or ScheduleV2 event.
type ScheduleSpec struct {
	Name       string
	Expression string
	Input      string
}

// envBindings returns, for each environment variable of a function (Globals
// included), the logical id of the resource it is a plain !Ref of, if any.
// The local stack names resources after the values these variables get in
// the env file, and points them at the real local resources.
func (t *Template) envBindings(function string) map[string]string {
	bindings := map[string]string{}
	for name, raw := range t.rawEnv(function) {
		m, _ := raw.(map[string]any)
		id, _ := m["Ref"].(string)
		if _, isResource := t.Resources[id]; isResource && len(m) == 1 {
			bindings[name] = id
		}
	}
	return bindings
}

// rawEnv is Globals.Function.Environment.Variables merged with the
// function's own, unresolved; the function's win, as in SAM.
func (t *Template) rawEnv(function string) map[string]any {
	env := map[string]any{}
	maps.Copy(env, envVariables(t.Globals.Function))
	maps.Copy(env, envVariables(t.Resources[function].Properties))
	return env
}

func envVariables(props map[string]any) map[string]any {
	envProp, _ := props["Environment"].(map[string]any)
	vars, _ := envProp["Variables"].(map[string]any)
	return vars
}

// function resolves a function's environment, timeout, memory and events.
func (t *Template) function(r *resolver, id string) (FunctionSpec, error) {
	res, ok := t.Resources[id]
	if !ok || res.Type != typeFunction {
		return FunctionSpec{}, fmt.Errorf("template has no function %s", id)
	}
	spec := FunctionSpec{LogicalID: id, Env: map[string]string{}}
	for name, raw := range t.rawEnv(id) {
		v, err := r.resolveString(raw)
		if err != nil {
			return spec, fmt.Errorf("%s environment variable %s: %w", id, name, err)
		}
		spec.Env[name] = v
	}
	timeout, err := t.functionInt(r, id, "Timeout", 3) // SAM's default
	if err != nil {
		return spec, err
	}
	spec.Timeout = time.Duration(timeout) * time.Second
	if spec.MemorySize, err = t.functionInt(r, id, "MemorySize", 128); err != nil {
		return spec, err
	}
	eventsProp, _ := res.Properties["Events"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(eventsProp)) {
		ev, _ := eventsProp[name].(map[string]any)
		props, _ := ev["Properties"].(map[string]any)
		switch ev["Type"] {
		case "HttpApi":
			spec.HTTPAPI = true
		case "SQS":
			var sqs SQSEventSpec
			sqs, err = sqsEvent(r, name, props)
			spec.SQS = append(spec.SQS, sqs)
		case "Schedule", "ScheduleV2":
			var s struct{ ScheduleExpression, Input string }
			err = r.decode(props, &s)
			spec.Schedules = append(spec.Schedules, ScheduleSpec{Name: name, Expression: s.ScheduleExpression, Input: s.Input})
		}
		if err != nil {
			return spec, fmt.Errorf("%s event %s: %w", id, name, err)
		}
	}
	return spec, nil
}

// functionInt reads a numeric function property, falling back to Globals and
// then to SAM's default.
func (t *Template) functionInt(r *resolver, id, prop string, def int) (int, error) {
	raw, ok := t.Resources[id].Properties[prop]
	if !ok {
		raw, ok = t.Globals.Function[prop]
	}
	n := cfnInt(def)
	if ok {
		if err := r.decode(raw, &n); err != nil {
			return 0, fmt.Errorf("%s %s: %w", id, prop, err)
		}
	}
	return int(n), nil
}

func sqsEvent(r *resolver, name string, props map[string]any) (SQSEventSpec, error) {
	var p struct {
		Queue                          string
		BatchSize                      cfnInt
		MaximumBatchingWindowInSeconds cfnInt
		FunctionResponseTypes          []string
		ScalingConfig                  struct{ MaximumConcurrency cfnInt }
	}
	p.BatchSize = 10 // the event source mapping's default
	if err := r.decode(props, &p); err != nil {
		return SQSEventSpec{}, err
	}
	queue := r.queueByARN(p.Queue)
	if queue == "" {
		return SQSEventSpec{}, fmt.Errorf("queue %s is not a queue of the template", p.Queue)
	}
	return SQSEventSpec{
		Name:                    name,
		Queue:                   queue,
		BatchSize:               int(p.BatchSize),
		Window:                  time.Duration(p.MaximumBatchingWindowInSeconds) * time.Second,
		ReportBatchItemFailures: slices.Contains(p.FunctionResponseTypes, "ReportBatchItemFailures"),
		MaximumConcurrency:      int(p.ScalingConfig.MaximumConcurrency),
	}, nil
}

// noValue is what AWS::NoValue resolves to: the property or list element
// holding it disappears.
type noValue struct{}

// resolver evaluates intrinsic functions against the local stack: parameters
// take their defaults, resources their local names, URLs and ARNs.
type resolver struct {
	tmpl   *Template
	params map[string]string
	refs   map[string]string // logical id -> what !Ref gives
	attrs  map[string]string // "LogicalId.Attribute" -> what !GetAtt gives
	pseudo map[string]string
	// symbolic resolves a reference to a resource that has no local
	// counterpart to a placeholder, "<Id>" or "<Id.Attribute>", rather than
	// failing: for reading the template as deployed (Evaluate).
	symbolic bool
}

func newResolver(t *Template, region, account, stackName string) (*resolver, error) {
	r := &resolver{
		tmpl:   t,
		params: map[string]string{},
		refs:   map[string]string{},
		attrs:  map[string]string{},
		pseudo: map[string]string{
			"AWS::Region":    region,
			"AWS::AccountId": account,
			"AWS::StackName": stackName,
			"AWS::StackId":   "arn:aws:cloudformation:" + region + ":" + account + ":stack/" + stackName + "/local",
			"AWS::Partition": "aws",
			"AWS::URLSuffix": "amazonaws.com",
		},
	}
	for name, p := range t.Parameters {
		if p.Default == nil {
			continue
		}
		v, err := scalarString(p.Default)
		if err != nil {
			return nil, fmt.Errorf("parameter %s default: %w", name, err)
		}
		r.params[name] = v
	}
	for _, id := range t.LogicalIDs(typeFunction) {
		r.refs[id] = id
		r.attrs[id+".Arn"] = "arn:aws:lambda:" + region + ":" + account + ":function:" + id
	}
	return r, nil
}

// addTable and addQueue record a local resource so that references to it
// resolve.
func (r *resolver) addTable(id, name string) {
	r.refs[id] = name
	r.attrs[id+".Arn"] = "arn:aws:dynamodb:" + r.pseudo["AWS::Region"] + ":" + r.pseudo["AWS::AccountId"] + ":table/" + name
}

func (r *resolver) addQueue(id, name, url, arn string) {
	r.refs[id] = url
	r.attrs[id+".Arn"] = arn
	r.attrs[id+".QueueName"] = name
	r.attrs[id+".QueueUrl"] = url
}

func (r *resolver) queueByARN(arn string) string {
	for _, id := range r.tmpl.LogicalIDs(typeQueue) {
		if r.attrs[id+".Arn"] == arn {
			return id
		}
	}
	return ""
}

// decode resolves v and decodes the result into out by its field names.
func (r *resolver) decode(v any, out any) error {
	resolved, err := r.resolve(v)
	if err != nil {
		return err
	}
	b, err := json.Marshal(resolved)
	if err != nil {
		return fmt.Errorf("encode resolved properties: %w", err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode resolved properties: %w", err)
	}
	return nil
}

func (r *resolver) resolveString(v any) (string, error) {
	resolved, err := r.resolve(v)
	if err != nil {
		return "", err
	}
	return scalarString(resolved)
}

// resolve evaluates every intrinsic function in v.
func (r *resolver) resolve(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return r.intrinsic(k, arg)
				}
			}
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			re, err := r.resolve(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if _, drop := re.(noValue); !drop {
				out[k] = re
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			re, err := r.resolve(e)
			if err != nil {
				return nil, err
			}
			if _, drop := re.(noValue); !drop {
				out = append(out, re)
			}
		}
		return out, nil
	default:
		return v, nil
	}
}

func (r *resolver) intrinsic(name string, arg any) (any, error) {
	switch name {
	case "Ref":
		id, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("!Ref of %v: not a name", arg)
		}
		return r.ref(id)
	case "Fn::GetAtt":
		parts, err := r.strings(arg)
		if err != nil || len(parts) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt %v: want [Resource, Attribute]", arg)
		}
		return r.getAtt(parts[0], parts[1])
	case "Fn::Sub":
		return r.sub(arg)
	case "Fn::Select":
		args, ok := arg.([]any)
		if !ok || len(args) != 2 {
			return nil, fmt.Errorf("Fn::Select: want [index, list]")
		}
		is, err := r.resolveString(args[0])
		if err != nil {
			return nil, err
		}
		list, err := r.resolve(args[1])
		if err != nil {
			return nil, err
		}
		l, _ := list.([]any)
		i, err := strconv.Atoi(is)
		if err != nil || i < 0 || i >= len(l) {
			return nil, fmt.Errorf("Fn::Select: index %s out of range", is)
		}
		return l[i], nil
	case "Fn::GetAZs":
		// The local stack has no zones; three named after the region stand in.
		region := r.pseudo["AWS::Region"]
		return []any{region + "a", region + "b", region + "c"}, nil
	case "Fn::If":
		args, ok := arg.([]any)
		if !ok || len(args) != 3 {
			return nil, fmt.Errorf("Fn::If: want [condition, then, else]")
		}
		cond, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("Fn::If: condition must be a name")
		}
		b, err := r.condition(cond)
		if err != nil {
			return nil, err
		}
		if b {
			return r.resolve(args[1])
		}
		return r.resolve(args[2])
	case "Fn::Equals":
		args, err := r.strings(arg)
		if err != nil || len(args) != 2 {
			return nil, fmt.Errorf("Fn::Equals: want two values")
		}
		return args[0] == args[1], nil
	case "Fn::Not":
		args, ok := arg.([]any)
		if !ok || len(args) != 1 {
			return nil, fmt.Errorf("Fn::Not: want one condition")
		}
		v, err := r.resolve(args[0])
		b, ok := v.(bool)
		if err == nil && !ok {
			err = fmt.Errorf("Fn::Not: %v is not a condition", args[0])
		}
		return !b, err
	}
	return nil, fmt.Errorf("%s is not supported by the local stack", name)
}

func (r *resolver) ref(id string) (any, error) {
	if id == "AWS::NoValue" {
		return noValue{}, nil
	}
	for _, values := range []map[string]string{r.pseudo, r.params} {
		if v, ok := values[id]; ok {
			return v, nil
		}
	}
	if _, isParam := r.tmpl.Parameters[id]; isParam {
		return nil, fmt.Errorf("parameter %s has no default", id)
	}
	return r.local("!Ref", r.refs, id, id)
}

func (r *resolver) getAtt(id, attr string) (any, error) {
	return r.local("GetAtt", r.attrs, id+"."+attr, id)
}

// local is what a reference (key) to resource id gives: its local value,
// else, reading the template as deployed, a placeholder naming it.
func (r *resolver) local(fn string, values map[string]string, key, id string) (any, error) {
	if v, ok := values[key]; ok {
		return v, nil
	}
	res, ok := r.tmpl.Resources[id]
	switch {
	case ok && r.symbolic:
		return "<" + key + ">", nil
	case ok:
		return nil, fmt.Errorf("%s %s: %s has no local counterpart", fn, key, res.Type)
	}
	return nil, fmt.Errorf("%s %s: not in the template", fn, key)
}

func (r *resolver) condition(name string) (bool, error) {
	expr, ok := r.tmpl.Conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	v, err := r.resolve(expr)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s is not a boolean", name)
	}
	return b, nil
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

func (r *resolver) sub(arg any) (any, error) {
	format, ok := arg.(string)
	var vars map[string]any
	if a, isList := arg.([]any); isList && len(a) == 2 {
		format, ok = a[0].(string)
		vars, _ = a[1].(map[string]any)
	}
	if !ok {
		return nil, fmt.Errorf("Fn::Sub: want a string or [string, variables]")
	}
	var firstErr error
	out := subVar.ReplaceAllStringFunc(format, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}" // ${!Literal} escapes
		}
		expr, ok := vars[name]
		if id, attr, dotted := strings.Cut(name, "."); !ok && dotted {
			expr = map[string]any{"Fn::GetAtt": []any{id, attr}}
		} else if !ok {
			expr = map[string]any{"Ref": name}
		}
		s, err := r.resolveString(expr)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("Fn::Sub %s: %w", m, err)
		}
		return s
	})
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

func (r *resolver) strings(v any) ([]string, error) {
	resolved, err := r.resolve(v)
	if err != nil {
		return nil, err
	}
	list, ok := resolved.([]any)
	if !ok {
		return nil, fmt.Errorf("%v is not a list", v)
	}
	out := make([]string, len(list))
	for i, e := range list {
		if out[i], err = scalarString(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// cfnInt decodes a resolved property that is a number either literally or
// as the string a !Ref of a parameter gives.
type cfnInt int64

func (n *cfnInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not a whole number", b)
	}
	*n = cfnInt(v)
	return nil
}

// scalarString renders a resolved scalar as the string CloudFormation would
// pass on (numbers and booleans become their text).
func scalarString(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	case json.Number: // a number from an env file
		return v.String(), nil
	}
	return "", fmt.Errorf("%v is not a scalar", v)
}
