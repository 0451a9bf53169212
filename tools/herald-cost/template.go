package main

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/heraldhq/herald/tools/localstack"
)

// What the cost model reads from template.yaml, so that it prices the
// deployment as declared.
type deployment struct {
	MemoryMB      int
	RetentionDays int
	BatchSize     int // DeliveryFunction's SQS event
	PITR          bool
	Indexes       []index // the table's global secondary indexes
	// PlatformLogs says whether Lambda writes its START, END and REPORT
	// lines (PlatformLogLevel INFO or DEBUG) or drops them (WARN).
	PlatformLogs bool
}

// loadDeployment reads the checkout's template.yaml.
func loadDeployment() (deployment, error) {
	root, err := localstack.RepoRoot()
	if err != nil {
		return deployment{}, err
	}
	tmpl, err := localstack.LoadTemplate(filepath.Join(root, "template.yaml"))
	if err != nil {
		return deployment{}, err
	}
	d, err := readDeployment(tmpl)
	if err != nil {
		return d, fmt.Errorf("template.yaml: %w", err)
	}
	return d, nil
}

func readDeployment(t *localstack.Template) (deployment, error) {
	d := deployment{}
	var err error
	if d.MemoryMB, err = intOf(t.Globals.Function["MemorySize"]); err != nil {
		return d, fmt.Errorf("Globals.Function.MemorySize: %w", err)
	}
	if d.RetentionDays, err = intOf(t.Parameters["CallRetentionDays"].Default); err != nil {
		return d, fmt.Errorf("CallRetentionDays: %w", err)
	}
	fn := t.Resources["DeliveryFunction"].Properties
	evs, _ := fn["Events"].(map[string]any)
	for _, e := range evs {
		ev, _ := e.(map[string]any)
		if ev["Type"] != "SQS" {
			continue
		}
		props, _ := ev["Properties"].(map[string]any)
		if d.BatchSize, err = intOf(props["BatchSize"]); err != nil {
			return d, fmt.Errorf("DeliveryFunction SQS BatchSize: %w", err)
		}
	}
	if d.BatchSize == 0 {
		return d, fmt.Errorf("DeliveryFunction has no SQS event")
	}
	table := t.Resources["Table"].Properties
	if pitr, ok := table["PointInTimeRecoverySpecification"].(map[string]any); ok {
		d.PITR = pitr["PointInTimeRecoveryEnabled"] == true
	}
	level := fmt.Sprint(t.Parameters["PlatformLogLevel"].Default)
	d.PlatformLogs = level == "INFO" || level == "DEBUG"
	d.Indexes, err = tableIndexes(t)
	return d, err
}

// tableIndexes reads the table's global secondary indexes.
func tableIndexes(t *localstack.Template) ([]index, error) {
	table := t.Resources["Table"].Properties
	raw, _ := table["GlobalSecondaryIndexes"].([]any)
	var out []index
	for _, r := range raw {
		g, _ := r.(map[string]any)
		idx := index{Name: fmt.Sprint(g["IndexName"])}
		keys, _ := g["KeySchema"].([]any)
		for _, k := range keys {
			km, _ := k.(map[string]any)
			idx.Keys = append(idx.Keys, fmt.Sprint(km["AttributeName"]))
		}
		proj, _ := g["Projection"].(map[string]any)
		idx.Projection = fmt.Sprint(proj["ProjectionType"])
		attrs, _ := proj["NonKeyAttributes"].([]any)
		for _, a := range attrs {
			idx.Include = append(idx.Include, fmt.Sprint(a))
		}
		if len(idx.Keys) == 0 {
			return nil, fmt.Errorf("index %s has no keys", idx.Name)
		}
		out = append(out, idx)
	}
	return out, nil
}

func intOf(v any) (int, error) {
	switch v := v.(type) {
	case int:
		return v, nil
	case float64:
		return int(v), nil
	case string:
		return strconv.Atoi(v)
	}
	return 0, fmt.Errorf("not a number: %v", v)
}
