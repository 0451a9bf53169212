package main

import (
	"encoding/json"
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
	BatchSize     int // DeliveryFunction's SQS events'
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

// readDeployment reads the template as deployed with its defaults.
func readDeployment(t *localstack.Template) (deployment, error) {
	var d deployment
	deployed, err := t.Evaluate(nil)
	if err != nil {
		return d, err
	}
	var globals struct{ MemorySize int }
	var fn struct {
		Events map[string]struct {
			Type       string
			Properties struct{ BatchSize int }
		}
	}
	var table struct {
		PointInTimeRecoverySpecification struct{ PointInTimeRecoveryEnabled bool }
		GlobalSecondaryIndexes           []struct {
			IndexName  string
			KeySchema  []struct{ AttributeName string }
			Projection struct {
				ProjectionType   string
				NonKeyAttributes []string
			}
		}
	}
	for what, v := range map[string]any{"Globals.Function": &globals, "DeliveryFunction": &fn, "Table": &table} {
		props := deployed.Globals
		if what != "Globals.Function" {
			props = deployed.Resources[what].Properties
		}
		if raw, err := json.Marshal(props); err != nil || json.Unmarshal(raw, v) != nil {
			return d, fmt.Errorf("%s: not as the cost model reads it", what)
		}
	}
	d.MemoryMB, d.PITR = globals.MemorySize, table.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled
	if d.RetentionDays, err = strconv.Atoi(deployed.Parameters["CallRetentionDays"]); err != nil {
		return d, fmt.Errorf("CallRetentionDays: %w", err)
	}
	level := deployed.Parameters["PlatformLogLevel"]
	d.PlatformLogs = level == "INFO" || level == "DEBUG"
	for _, ev := range fn.Events {
		if ev.Type == "SQS" {
			d.BatchSize = ev.Properties.BatchSize
		}
	}
	if d.BatchSize == 0 || d.MemoryMB == 0 {
		return d, fmt.Errorf("DeliveryFunction has no SQS event with a BatchSize, or Globals no MemorySize")
	}
	for _, g := range table.GlobalSecondaryIndexes {
		idx := index{Name: g.IndexName, Projection: g.Projection.ProjectionType, Include: g.Projection.NonKeyAttributes}
		for _, k := range g.KeySchema {
			idx.Keys = append(idx.Keys, k.AttributeName)
		}
		if len(idx.Keys) == 0 {
			return d, fmt.Errorf("index %s has no keys", idx.Name)
		}
		d.Indexes = append(d.Indexes, idx)
	}
	return d, nil
}
