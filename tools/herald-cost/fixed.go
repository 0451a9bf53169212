package main

import (
	"fmt"
	"io"

	"github.com/heraldhq/herald/shared/metrics"
	"github.com/heraldhq/herald/tools/localstack"
)

// Fixed monthly costs of what template.yaml declares, whatever the
// traffic: the monitoring every stack has (alarms, the dashboard, Herald's
// custom metrics) and the network the StaticEgressIp option adds (NAT
// gateway, its public IPv4 address, the SQS interface endpoint in each
// subnet). Quantities are counted in the template, as deployed with the
// option on, so that they follow it.

// hoursPerMonth is an average month's hours.
const hoursPerMonth = 24 * 365.25 / 12

// fixedLine is one priced item of a fixed cost.
type fixedLine struct {
	Item     string
	Quantity float64
	Unit     string
	Price    float64 // USD per unit
	Note     string
}

func (l fixedLine) USD() float64 { return l.Quantity * l.Price }

func total(lines []fixedLine) float64 {
	sum := 0.0
	for _, l := range lines {
		sum += l.USD()
	}
	return sum
}

// fixedCosts prices the monitoring of a stack and the StaticEgressIp
// option, as template.yaml declares them.
func fixedCosts(t *localstack.Template) (monitoring, egress []fixedLine, err error) {
	d, err := t.Evaluate(map[string]string{"StaticEgressIp": "true"})
	if err != nil {
		return nil, nil, fmt.Errorf("template.yaml with StaticEgressIp=true: %w", err)
	}
	alarms := d.OfType("AWS::CloudWatch::Alarm")
	alarmMetrics := 0
	for _, id := range alarms {
		queries, _ := d.Resources[id].Properties["Metrics"].([]any)
		if len(queries) == 0 {
			alarmMetrics++ // one metric, named directly
		}
		for _, q := range queries {
			if m, _ := q.(map[string]any); m["MetricStat"] != nil {
				alarmMetrics++
			}
		}
	}
	monitoring = []fixedLine{
		{"alarm metrics", float64(alarmMetrics), "metric-month", AlarmMetricPerMonth,
			fmt.Sprintf("%d alarms; a metric-math alarm counts each metric it reads", len(alarms))},
		{"dashboard", float64(len(d.OfType("AWS::CloudWatch::Dashboard"))), "dashboard-month", DashboardPerMonth, ""},
		{"Herald custom metrics", float64(metrics.CustomMetrics()), "metric-month", CustomMetricPerMonth,
			"written only while there is traffic: a quiet month costs less"},
	}

	interfaceAZs, gateways := 0, 0
	for _, id := range d.OfType("AWS::EC2::VPCEndpoint") {
		p := d.Resources[id].Properties
		switch p["VpcEndpointType"] {
		case "Interface":
			subnets, _ := p["SubnetIds"].([]any)
			interfaceAZs += len(subnets)
		case "Gateway":
			gateways++
		}
	}
	nats := len(d.OfType("AWS::EC2::NatGateway"))
	egress = []fixedLine{
		{"NAT gateway", float64(nats) * hoursPerMonth, "hour", NATGatewayPerHour,
			fmt.Sprintf("%d; plus %.3f USD per GB it carries", nats, NATGatewayPerGB)},
		{"public IPv4 address (the Elastic IP)", float64(len(d.OfType("AWS::EC2::EIP"))) * hoursPerMonth, "hour", PublicIPv4PerHour, ""},
		{"SQS interface endpoint", float64(interfaceAZs) * hoursPerMonth, "endpoint-AZ-hour", InterfaceEndpointPerAZHour,
			fmt.Sprintf("in %d zones; plus %.3f USD per GB", interfaceAZs, InterfaceEndpointPerGB)},
		{"DynamoDB gateway endpoint", float64(gateways), "endpoint", 0, "free"},
	}
	return monitoring, egress, nil
}

// reportFixed prints the fixed monthly costs of the checkout's template.
func reportFixed(w io.Writer) error {
	tmpl, err := checkoutTemplate()
	if err != nil {
		return err
	}
	monitoring, egress, err := fixedCosts(tmpl)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n## Fixed USD per month, whatever the traffic (template.yaml)\n\n")
	for _, sec := range []struct {
		title string
		lines []fixedLine
	}{{"Monitoring (every stack)", monitoring}, {"StaticEgressIp=true", egress}} {
		fmt.Fprintf(w, "%s:\n\n| item | quantity | unit | USD per unit | USD per month | note |\n|---|---:|---|---:|---:|---|\n", sec.title)
		for _, l := range sec.lines {
			fmt.Fprintf(w, "| %s | %.1f | %s | %.4g | %.2f | %s |\n", l.Item, l.Quantity, l.Unit, l.Price, l.USD(), l.Note)
		}
		fmt.Fprintf(w, "| **total** | | | | **%.2f** | |\n\n", total(sec.lines))
	}
	fmt.Fprintf(w, "The account's free tier (10 alarm metrics, 3 dashboards) is left out. Tracing=Active adds %.2f USD per million traces recorded beyond 100,000 a month (Lambda samples 1 request a second and 5%% of the rest).\n", XRayPerMillionTraces)
	return nil
}
