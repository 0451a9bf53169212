package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
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
	tmpl, err := checkoutTemplate()
	if err != nil {
		return deployment{}, err
	}
	d, err := readDeployment(tmpl)
	if err != nil {
		return d, fmt.Errorf("template.yaml: %w", err)
	}
	return d, nil
}

func checkoutTemplate() (*localstack.Template, error) {
	root, err := localstack.RepoRoot()
	if err != nil {
		return nil, err
	}
	return localstack.LoadTemplate(filepath.Join(root, "template.yaml"))
}

// readDeployment reads the template as deployed with its defaults.
func readDeployment(t *localstack.Template) (deployment, error) {
	var d deployment
	deployed, err := t.Evaluate(nil)
	if err != nil {
		return d, err
	}
	var props struct { // as deployed, through JSON
		Globals          struct{ MemorySize int }
		DeliveryFunction struct {
			Events map[string]struct {
				Type       string
				Properties struct{ BatchSize int }
			}
		}
		Table struct {
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
	}
	raw, err := json.Marshal(map[string]any{"Globals": deployed.Globals,
		"DeliveryFunction": deployed.Resources["DeliveryFunction"].Properties, "Table": deployed.Resources["Table"].Properties})
	if err != nil || json.Unmarshal(raw, &props) != nil {
		return d, fmt.Errorf("Globals.Function, DeliveryFunction or Table: not as the cost model reads it")
	}
	d.MemoryMB, d.PITR = props.Globals.MemorySize, props.Table.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled
	if d.RetentionDays, err = strconv.Atoi(deployed.Parameters["CallRetentionDays"]); err != nil {
		return d, fmt.Errorf("CallRetentionDays: %w", err)
	}
	d.PlatformLogs = slices.Contains([]string{"INFO", "DEBUG"}, deployed.Parameters["PlatformLogLevel"])
	for _, ev := range props.DeliveryFunction.Events {
		if ev.Type == "SQS" {
			d.BatchSize = ev.Properties.BatchSize
		}
	}
	if d.BatchSize == 0 || d.MemoryMB == 0 {
		return d, fmt.Errorf("DeliveryFunction has no SQS event with a BatchSize, or Globals no MemorySize")
	}
	for _, g := range props.Table.GlobalSecondaryIndexes {
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
