package delivery_test

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/heraldhq/herald/shared/delivery"
)

// TestMaxReceivesIsTheTemplates: the handler marks a call dead-lettered on
// the receive its queue's redrive policy makes the last.
func TestMaxReceivesIsTheTemplates(t *testing.T) {
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				RedrivePolicy struct {
					MaxReceiveCount int `yaml:"maxReceiveCount"`
				} `yaml:"RedrivePolicy"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(raw, &tmpl); err != nil && !strings.Contains(err.Error(), "!") {
		t.Fatal(err)
	}
	for _, q := range []string{"DeliveryQueue", "FirstAttemptQueue"} {
		if got := tmpl.Resources[q].Properties.RedrivePolicy.MaxReceiveCount; got != delivery.MaxReceives {
			t.Errorf("%s maxReceiveCount %d; delivery.MaxReceives is %d", q, got, delivery.MaxReceives)
		}
	}
}
