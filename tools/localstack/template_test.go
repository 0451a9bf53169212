package localstack

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func loadTestTemplate(t *testing.T, path string) *Template {
	t.Helper()
	tmpl, err := LoadTemplate(path)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func repoFile(t *testing.T, parts ...string) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(append([]string{root}, parts...)...)
}

// formsResolver resolves testdata/forms.yaml with its table and queue given
// local names.
func formsResolver(t *testing.T, tmpl *Template) *resolver {
	t.Helper()
	r, err := newResolver(tmpl, "eu-west-1", "000000000000", "forms")
	if err != nil {
		t.Fatal(err)
	}
	r.addTable("Things", "things-local")
	r.addQueue("Inbox", "inbox-local", "http://moto/000000000000/inbox-local", "arn:aws:sqs:eu-west-1:000000000000:inbox-local")
	return r
}

func TestResolveShortAndLongForms(t *testing.T) {
	tmpl := loadTestTemplate(t, filepath.Join("testdata", "forms.yaml"))
	spec, err := tmpl.function(formsResolver(t, tmpl), "Fn")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"SHARED":         "shared",
		"OVERRIDDEN":     "from-function",
		"REF_PARAM":      "test",
		"REF_NUMBER":     "7",
		"REF_TABLE":      "things-local",
		"REF_TABLE_LONG": "things-local",
		"GETATT_SHORT":   "arn:aws:sqs:eu-west-1:000000000000:inbox-local",
		"GETATT_LONG":    "inbox-local",
		"GETATT_TABLE":   "arn:aws:dynamodb:eu-west-1:000000000000:table/things-local",
		"SUB":            "test-inbox-local-eu-west-1-${Literal}",
		"SUB_VARS":       "7/test",
		"SUB_LONG":       "000000000000",
		"IF_FALSE":       "none",
		"IF_TRUE":        "yes",
		"IF_LONG":        "no-topic",
		"SELECT":         "test",
		"ZONE":           "eu-west-1a",
		"BOOL":           "true",
	}
	if !reflect.DeepEqual(spec.Env, want) {
		for k, v := range want {
			if spec.Env[k] != v {
				t.Errorf("%s: got %q, want %q", k, spec.Env[k], v)
			}
		}
		for k := range spec.Env {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected variable %s=%q", k, spec.Env[k])
			}
		}
	}
	if spec.Timeout != 12*time.Second {
		t.Errorf("Timeout: got %s, want 12s from Globals", spec.Timeout)
	}
	if spec.MemorySize != 7 {
		t.Errorf("MemorySize: got %d, want 7 from !Ref Count", spec.MemorySize)
	}
	wantSQS := []SQSEventSpec{{Name: "Inbox", Queue: "Inbox", BatchSize: 10, ReportBatchItemFailures: true}}
	if !reflect.DeepEqual(spec.SQS, wantSQS) {
		t.Errorf("SQS events: got %+v, want %+v", spec.SQS, wantSQS)
	}
	if len(spec.Schedules) != 1 || spec.Schedules[0].Input != `{"tick":true}` {
		t.Errorf("schedules: got %+v, want one with Input {\"tick\":true}", spec.Schedules)
	}
}

func TestResolveErrors(t *testing.T) {
	tmpl := loadTestTemplate(t, filepath.Join("testdata", "forms.yaml"))
	r := formsResolver(t, tmpl)
	if _, err := tmpl.function(r, "Broken"); err == nil || !strings.Contains(err.Error(), "NoDefault has no default") {
		t.Errorf("a parameter without default: got %v, want an error naming it", err)
	}
	for name, expr := range map[string]any{
		"unknown ref":        map[string]any{"Ref": "Nowhere"},
		"unknown attribute":  map[string]any{"Fn::GetAtt": []any{"Inbox", "Nope"}},
		"unsupported":        map[string]any{"Fn::Base64": "x"},
		"not used by Herald": map[string]any{"Fn::Join": []any{":", []any{"a", "b"}}},
		"a dotted GetAtt":    map[string]any{"Fn::GetAtt": "Things.Arn"},
		"Not of a string":    map[string]any{"Fn::Not": []any{"x"}},
		"unknown condition":  map[string]any{"Fn::If": []any{"Nope", "a", "b"}},
	} {
		if _, err := r.resolve(expr); err == nil {
			t.Errorf("%s: got no error", name)
		}
	}
	if _, err := ParseTemplate([]byte("Resources:\n  X:\n    Type: T\n    Properties:\n      A: !GetAtt NoDot\n")); err == nil {
		t.Error("!GetAtt without a dot: got no error")
	}
}

func TestNoValueDropsProperty(t *testing.T) {
	tmpl := loadTestTemplate(t, repoFile(t, "template.yaml"))
	r, err := newResolver(tmpl, "us-east-1", motoAccount, "t")
	if err != nil {
		t.Fatal(err)
	}
	// The DLQ alarm's AlarmActions is !If [HasAlarmTopic, [...], !Ref AWS::NoValue].
	got, err := r.resolve(map[string]any{"AlarmActions": tmpl.Resources["DeliveryDLQAlarm"].Properties["AlarmActions"], "Keep": 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"Keep": 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestTemplateYAML reads the repository's template: every table, queue and
// function is found, and each function's environment resolves.
func TestTemplateYAML(t *testing.T) {
	tmpl := loadTestTemplate(t, repoFile(t, "template.yaml"))
	for typ, want := range map[string][]string{
		typeTable:    {"Table"},
		typeQueue:    {"DeliveryDLQ", "DeliveryQueue", "FirstAttemptDLQ", "FirstAttemptQueue"},
		typeFunction: {"ApiFunction", "DeliveryFunction", "IngestFunction"},
	} {
		if got := tmpl.LogicalIDs(typ); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", typ, got, want)
		}
	}
	r, err := newResolver(tmpl, "us-east-1", motoAccount, "t")
	if err != nil {
		t.Fatal(err)
	}
	r.addTable("Table", "the-table")
	r.addQueue("DeliveryQueue", "q", "http://moto/123456789012/q", "arn:aws:sqs:us-east-1:123456789012:q")
	r.addQueue("DeliveryDLQ", "q-dlq", "http://moto/123456789012/q-dlq", "arn:aws:sqs:us-east-1:123456789012:q-dlq")
	r.addQueue("FirstAttemptQueue", "f.fifo", "http://moto/123456789012/f.fifo", "arn:aws:sqs:us-east-1:123456789012:f.fifo")
	r.addQueue("FirstAttemptDLQ", "f-dlq.fifo", "http://moto/123456789012/f-dlq.fifo", "arn:aws:sqs:us-east-1:123456789012:f-dlq.fifo")
	wantEnv := map[string]string{
		"TABLE_NAME":               "the-table",
		"DELIVERY_QUEUE_URL":       "http://moto/123456789012/q",
		"FIRST_ATTEMPT_QUEUE_URL":  "http://moto/123456789012/f.fifo",
		"LOG_LEVEL":                "info",
		"HERALD_STAGE":             "dev",
		"CALL_RETENTION_DAYS":      "30",
		"ALLOW_PRIVATE_TARGETS":    "false",
		"AUTO_DISABLE_AFTER_HOURS": "120",
	}
	for _, fn := range tmpl.LogicalIDs(typeFunction) {
		spec, err := tmpl.function(r, fn)
		if err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		if !reflect.DeepEqual(spec.Env, wantEnv) {
			t.Errorf("%s env: got %v, want %v", fn, spec.Env, wantEnv)
		}
		if spec.Timeout != 30*time.Second || spec.MemorySize != 256 {
			t.Errorf("%s: got timeout %s memory %d, want 30s and 256 from Globals", fn, spec.Timeout, spec.MemorySize)
		}
		if got, want := spec.HTTPAPI, fn == "ApiFunction"; got != want {
			t.Errorf("%s: HTTPAPI got %v, want %v", fn, got, want)
		}
		if fn != DeliveryFunction {
			if len(spec.SQS)+len(spec.Schedules) != 0 {
				t.Errorf("%s: unexpected events %+v %+v", fn, spec.SQS, spec.Schedules)
			}
			continue
		}
		wantSQS := []SQSEventSpec{
			{Name: "Deliveries", Queue: "DeliveryQueue", BatchSize: 10, ReportBatchItemFailures: true, MaximumConcurrency: 10},
			{Name: "FirstAttempts", Queue: "FirstAttemptQueue", BatchSize: 10, ReportBatchItemFailures: true, MaximumConcurrency: 10},
		}
		if !reflect.DeepEqual(spec.SQS, wantSQS) {
			t.Errorf("%s SQS: got %+v, want %+v", fn, spec.SQS, wantSQS)
		}
		wantSchedules := []ScheduleSpec{{Name: "Sweep", Expression: "rate(1 minute)", Input: `{"herald":"sweep"}`}}
		if !reflect.DeepEqual(spec.Schedules, wantSchedules) {
			t.Errorf("%s schedules: got %+v, want %+v", fn, spec.Schedules, wantSchedules)
		}
	}
}

func TestLocalNames(t *testing.T) {
	tmpl := loadTestTemplate(t, repoFile(t, "template.yaml"))
	env, err := LoadEnvFile(repoFile(t, "events", "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := localNames(tmpl, env, DefaultStackName)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"Table":             "herald-local",
		"DeliveryQueue":     "herald-local-delivery",
		"DeliveryDLQ":       "herald-local-delivery-dlq",
		"FirstAttemptQueue": "herald-local-first-attempts.fifo",
		"FirstAttemptDLQ":   "herald-local-first-attempts-dlq.fifo",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// Without the env file, names derive from the logical ids.
	got, err = localNames(tmpl, EnvFile{}, "x")
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"Table": "x-table", "DeliveryQueue": "x-delivery-queue", "DeliveryDLQ": "x-delivery-queue-dlq",
		"FirstAttemptQueue": "x-first-attempt-queue.fifo", "FirstAttemptDLQ": "x-first-attempt-queue-dlq.fifo"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("without env file: got %v, want %v", got, want)
	}
}

func TestReadDevEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev.env")
	if err := os.WriteFile(path, []byte("HERALD_MOTO_URL=http://127.0.0.1:4566\nHERALD_TOKEN=hrld_x=y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"HERALD_MOTO_URL": "http://127.0.0.1:4566", "HERALD_TOKEN": "hrld_x=y"}
	if got, err := ReadDevEnv(path); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	if got, err := ReadDevEnv(filepath.Join(t.TempDir(), "missing")); err == nil || len(got) != 0 {
		t.Errorf("missing file: got %v, %v; want nothing and an error", got, err)
	}
}

func TestEnvFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "env.json")
	writeFile(t, path, `{"Parameters": {"A": "all", "B": "all", "N": 30, "T": true}, "Fn": {"B": "fn"}}`)
	f, err := LoadEnvFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.For("Fn"), map[string]string{"A": "all", "B": "fn", "N": "30", "T": "true"}; !reflect.DeepEqual(got, want) {
		t.Errorf("For(Fn): got %v, want %v", got, want)
	}
	if got, want := f.For("Other"), map[string]string{"A": "all", "B": "all", "N": "30", "T": "true"}; !reflect.DeepEqual(got, want) {
		t.Errorf("For(Other): got %v, want %v", got, want)
	}
	// The repository's file holds what the brief for local runs says.
	repo, err := LoadEnvFile(repoFile(t, "events", "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"TABLE_NAME":                "herald-local",
		"DELIVERY_QUEUE_URL":        "http://127.0.0.1:4566/123456789012/herald-local-delivery",
		"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:4566",
		"AWS_ENDPOINT_URL_SQS":      "http://127.0.0.1:4566",
		"AWS_REGION":                "us-east-1",
		"ALLOW_PRIVATE_TARGETS":     "true",
		"LOG_LEVEL":                 "debug",
	} {
		for _, fn := range []string{"ApiFunction", "IngestFunction", "DeliveryFunction"} {
			if got := repo.For(fn)[k]; got != want {
				t.Errorf("events/env.json %s %s: got %q, want %q", fn, k, got, want)
			}
		}
	}
}

func TestEvaluate(t *testing.T) {
	tmpl, err := ParseTemplate([]byte(`
Parameters:
  Option: { Type: String, Default: "off", AllowedValues: ["off", "on"] }
  Days: { Type: Number, Default: 30 }
Conditions:
  IsOn: !Equals [!Ref Option, "on"]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties: {}
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      RetentionInDays: !Ref Days
      LogGroupName: !Sub "/x/${Queue.QueueName}"
  Extra:
    Type: AWS::EC2::VPC
    Condition: IsOn
    Properties:
      Zone: !Select [1, !GetAZs ""]
      Maybe: !If [IsOn, !Ref Queue, !Ref AWS::NoValue]
Outputs:
  Always: { Value: !Ref Days }
  OnlyOn: { Condition: IsOn, Value: !GetAtt Extra.CidrBlock }
`))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		params    map[string]string
		resources []string
		outputs   map[string]any
	}{
		"defaults": {nil, []string{"Logs", "Queue"}, map[string]any{"Always": "30"}},
		"on": {map[string]string{"Option": "on", "Days": "7"}, []string{"Extra", "Logs", "Queue"},
			map[string]any{"Always": "7", "OnlyOn": "<Extra.CidrBlock>"}},
	} {
		d, err := tmpl.Evaluate(tc.params)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := slices.Sorted(maps.Keys(d.Resources))
		if !reflect.DeepEqual(got, tc.resources) {
			t.Errorf("%s: resources got %v, want %v", name, got, tc.resources)
		}
		if !reflect.DeepEqual(d.Outputs, tc.outputs) {
			t.Errorf("%s: outputs got %v, want %v", name, d.Outputs, tc.outputs)
		}
		if got, want := d.Resources["Logs"].Properties["LogGroupName"], "/x/<Queue.QueueName>"; got != want {
			t.Errorf("%s: a resource's attribute: got %v, want the placeholder %v", name, got, want)
		}
		if extra, ok := d.Resources["Extra"]; ok {
			want := map[string]any{"Zone": "us-east-1b", "Maybe": "<Queue>"}
			if !reflect.DeepEqual(extra.Properties, want) {
				t.Errorf("%s: Extra got %v, want %v", name, extra.Properties, want)
			}
		}
	}
	for name, params := range map[string]map[string]string{
		"unknown parameter": {"Nope": "x"},
		"value not allowed": {"Option": "maybe"},
	} {
		if _, err := tmpl.Evaluate(params); err == nil {
			t.Errorf("%s: got no error", name)
		}
	}
}
