package main

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/tools/localstack"
)

func TestFixedCosts(t *testing.T) {
	root, err := localstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := localstack.LoadTemplate(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	monitoring, egress, err := fixedCosts(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	// One NAT gateway, one address, the SQS endpoint in two zones, for an
	// average month (730.5 hours): 32.87 + 3.65 + 14.61 = 51.14 USD.
	hours := 730.5
	want := hours * (NATGatewayPerHour + PublicIPv4PerHour + 2*InterfaceEndpointPerAZHour)
	if got := total(egress); math.Abs(got-want) > 1e-9 {
		t.Errorf("egress: got %.4f USD a month, want %.4f", got, want)
	}
	// Eleven single-metric alarms, one on two metrics, one on three; one
	// dashboard; eleven custom metrics.
	want = 16*AlarmMetricPerMonth + DashboardPerMonth + 11*CustomMetricPerMonth
	if got := total(monitoring); math.Abs(got-want) > 1e-9 {
		t.Errorf("monitoring: got %.4f USD a month, want %.4f: %+v", got, want, monitoring)
	}
	var out bytes.Buffer
	if err := reportFixed(&out); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"| **total** | | | | **51.14** | |", "| NAT gateway | 730.5 | hour |"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, out.String())
		}
	}
	t.Logf("\n%s", out.String())
}
