package deploy

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/heraldhq/herald/shared/metrics"
	"github.com/heraldhq/herald/tools/localstack"
)

// What template.yaml deploys with each option on and off, read through
// localstack's Evaluate (conditions decided, resources as placeholders).

func repoFile(t *testing.T, parts ...string) string {
	t.Helper()
	root, err := localstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(append([]string{root}, parts...)...)
}

func loadTemplate(t *testing.T) *localstack.Template {
	t.Helper()
	tmpl, err := localstack.LoadTemplate(repoFile(t, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func evaluate(t *testing.T, tmpl *localstack.Template, params map[string]string) *localstack.Deployed {
	t.Helper()
	d, err := tmpl.Evaluate(params)
	if err != nil {
		t.Fatalf("%v: %v", params, err)
	}
	return d
}

// optionCases are the named variants and each option of all-on alone.
func optionCases() map[string]map[string]string {
	cases := map[string]map[string]string{}
	for name, values := range Variants {
		cases[name] = values
	}
	for k, v := range Variants["all-on"] {
		cases[k+" only"] = map[string]string{k: v}
	}
	return cases
}

// The resources StaticEgressIp adds, by type.
var egressResources = map[string][]string{
	"AWS::EC2::VPC":                         {"EgressVpc"},
	"AWS::EC2::InternetGateway":             {"EgressInternetGateway"},
	"AWS::EC2::VPCGatewayAttachment":        {"EgressGatewayAttachment"},
	"AWS::EC2::Subnet":                      {"EgressPrivateSubnetA", "EgressPrivateSubnetB", "EgressPublicSubnet"},
	"AWS::EC2::RouteTable":                  {"EgressPrivateRoutes", "EgressPublicRoutes"},
	"AWS::EC2::Route":                       {"EgressPrivateDefaultRoute", "EgressPublicDefaultRoute"},
	"AWS::EC2::SubnetRouteTableAssociation": {"EgressPrivateSubnetARoutes", "EgressPrivateSubnetBRoutes", "EgressPublicSubnetRoutes"},
	"AWS::EC2::EIP":                         {"EgressIp"},
	"AWS::EC2::NatGateway":                  {"EgressNat"},
	"AWS::EC2::SecurityGroup":               {"DeliverySecurityGroup", "SqsEndpointSecurityGroup"},
	"AWS::EC2::VPCEndpoint":                 {"DynamoDBEndpoint", "SqsEndpoint"},
}

func TestStaticEgressIp(t *testing.T) {
	tmpl := loadTemplate(t)
	for name, params := range optionCases() {
		d := evaluate(t, tmpl, params)
		on := params["StaticEgressIp"] == "true"
		got := map[string][]string{}
		for id, r := range d.Resources {
			if strings.HasPrefix(r.Type, "AWS::EC2::") {
				got[r.Type] = append(got[r.Type], id)
			}
		}
		for _, ids := range got {
			sort.Strings(ids)
		}
		want := egressResources
		if !on {
			want = map[string][]string{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: EC2 resources got %v, want %v", name, got, want)
		}
		vpc, hasVPC := d.Resources["DeliveryFunction"].Properties["VpcConfig"]
		if hasVPC != on {
			t.Errorf("%s: DeliveryFunction VpcConfig %v, want it only with StaticEgressIp", name, vpc)
		}
		if _, ok := d.Outputs["EgressIp"]; ok != on {
			t.Errorf("%s: output EgressIp present %v, want %v", name, ok, on)
		}
		for _, fn := range []string{"ApiFunction", "IngestFunction"} {
			if _, ok := d.Resources[fn].Properties["VpcConfig"]; ok {
				t.Errorf("%s: %s is in a VPC; only DeliveryFunction should be", name, fn)
			}
		}
		if !on {
			continue
		}
		checkEgress(t, name, d, vpc)
	}
}

// checkEgress follows the egress path: the function's two subnets in two
// zones, their route to the NAT, the NAT's address in a public subnet, and
// the endpoints that keep DynamoDB and SQS off the NAT.
func checkEgress(t *testing.T, name string, d *localstack.Deployed, vpc any) {
	t.Helper()
	props := func(id string) map[string]any { return d.Resources[id].Properties }
	cfg, _ := vpc.(map[string]any)
	subnets, _ := cfg["SubnetIds"].([]any)
	zones := map[any]bool{}
	for _, s := range subnets {
		id := strings.Trim(fmt.Sprint(s), "<>")
		zones[props(id)["AvailabilityZone"]] = true
		if props(id)["MapPublicIpOnLaunch"] != false {
			t.Errorf("%s: subnet %s hands out public addresses", name, id)
		}
	}
	if len(subnets) != 2 || len(zones) != 2 {
		t.Errorf("%s: DeliveryFunction subnets %v in zones %v, want two subnets in two zones", name, subnets, zones)
	}
	if got := props("EgressPrivateDefaultRoute"); got["NatGatewayId"] != "<EgressNat>" || got["RouteTableId"] != "<EgressPrivateRoutes>" || got["DestinationCidrBlock"] != "0.0.0.0/0" {
		t.Errorf("%s: private default route %v, want 0.0.0.0/0 through EgressNat", name, got)
	}
	if got := props("EgressNat"); got["AllocationId"] != "<EgressIp.AllocationId>" || got["SubnetId"] != "<EgressPublicSubnet>" {
		t.Errorf("%s: NAT gateway %v, want EgressIp in the public subnet", name, got)
	}
	if got := props("EgressPublicDefaultRoute"); got["GatewayId"] != "<EgressInternetGateway>" {
		t.Errorf("%s: public default route %v, want the internet gateway", name, got)
	}
	if got := d.Outputs["EgressIp"]; got != "<EgressIp.PublicIp>" {
		t.Errorf("%s: output EgressIp %v, want the Elastic IP's address", name, got)
	}
	ddb := props("DynamoDBEndpoint")
	if ddb["VpcEndpointType"] != "Gateway" || !reflect.DeepEqual(ddb["RouteTableIds"], []any{"<EgressPrivateRoutes>"}) ||
		!strings.HasSuffix(fmt.Sprint(ddb["ServiceName"]), ".dynamodb") {
		t.Errorf("%s: DynamoDB endpoint %v, want a gateway endpoint on the private routes", name, ddb)
	}
	q := props("SqsEndpoint")
	if q["VpcEndpointType"] != "Interface" || q["PrivateDnsEnabled"] != true || !reflect.DeepEqual(q["SubnetIds"], subnets) ||
		!strings.HasSuffix(fmt.Sprint(q["ServiceName"]), ".sqs") {
		t.Errorf("%s: SQS endpoint %v, want an interface endpoint with private DNS in the function's subnets", name, q)
	}
	if v := props("EgressVpc"); v["EnableDnsSupport"] != true || v["EnableDnsHostnames"] != true {
		t.Errorf("%s: VPC %v: private DNS for the SQS endpoint needs DNS support and hostnames", name, v)
	}
}

func TestOptionalPermissionsAndTracing(t *testing.T) {
	tmpl := loadTemplate(t)
	xray := "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
	vpcAccess := "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
	for name, params := range optionCases() {
		d := evaluate(t, tmpl, params)

		tracing := params["Tracing"]
		tracing = cmp.Or(tracing, "Disabled")
		if got := d.Globals["Tracing"]; got != tracing {
			t.Errorf("%s: Globals Tracing %v, want %s", name, got, tracing)
		}
		var want []any
		if tracing == "Active" {
			want = append(want, xray)
		}
		if params["StaticEgressIp"] == "true" {
			want = append(want, vpcAccess)
		}
		got, _ := d.Resources["DeliveryRole"].Properties["ManagedPolicyArns"].([]any)
		if len(got) != 0 || len(want) != 0 {
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: DeliveryRole managed policies %v, want %v", name, got, want)
			}
		}

		perm, ok := d.Resources["IngestInvokePermission"]
		if invoker := params["IngestInvokerArn"]; invoker == "" {
			if ok {
				t.Errorf("%s: IngestInvokePermission %v without IngestInvokerArn", name, perm)
			}
		} else {
			wantPerm := map[string]any{"Action": "lambda:InvokeFunction", "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:IngestFunction", "Principal": invoker}
			if !reflect.DeepEqual(perm.Properties, wantPerm) {
				t.Errorf("%s: IngestInvokePermission %v, want %v", name, perm.Properties, wantPerm)
			}
		}
	}
	// No other Lambda permission opens a function to anyone.
	d := evaluate(t, tmpl, Variants["all-on"])
	if ids := d.OfType("AWS::Lambda::Permission"); !reflect.DeepEqual(ids, []string{"IngestInvokePermission"}) {
		t.Errorf("Lambda permissions %v, want only IngestInvokePermission", ids)
	}
}

func TestAlarmsNotifyTheTopic(t *testing.T) {
	tmpl := loadTemplate(t)
	for name, params := range optionCases() {
		d := evaluate(t, tmpl, params)
		alarms := d.OfType("AWS::CloudWatch::Alarm")
		if len(alarms) < 11 {
			t.Fatalf("%s: %d alarms, want at least the eleven of docs/operations.md", name, len(alarms))
		}
		for _, id := range alarms {
			p := d.Resources[id].Properties
			for _, key := range []string{"AlarmActions", "OKActions"} {
				got, ok := p[key]
				if topic := params["AlarmTopicArn"]; topic != "" {
					if !reflect.DeepEqual(got, []any{topic}) {
						t.Errorf("%s: %s %s = %v, want [%s]", name, id, key, got, topic)
					}
				} else if ok {
					t.Errorf("%s: %s %s = %v without AlarmTopicArn", name, id, key, got)
				}
			}
			if n := fmt.Sprint(p["AlarmName"]); !strings.HasPrefix(n, "herald-"+d.Parameters["Stage"]+"-") {
				t.Errorf("%s: alarm %s is named %q, want herald-<Stage>-...", name, id, n)
			}
		}
	}
}

func TestLogGroupsKeepLogRetentionDays(t *testing.T) {
	tmpl := loadTemplate(t)
	for _, days := range []string{"", "90"} {
		params := map[string]string{}
		want := "30"
		if days != "" {
			params["LogRetentionDays"], want = days, days
		}
		d := evaluate(t, tmpl, params)
		functions := d.OfType("AWS::Serverless::Function")
		if len(functions) != 3 {
			t.Fatalf("functions %v, want three", functions)
		}
		for _, fn := range functions {
			logging, _ := d.Resources[fn].Properties["LoggingConfig"].(map[string]any)
			group := strings.Trim(fmt.Sprint(logging["LogGroup"]), "<>")
			lg, ok := d.Resources[group]
			if !ok || lg.Type != "AWS::Logs::LogGroup" {
				t.Errorf("%s logs to %v, want a log group of the template", fn, logging["LogGroup"])
				continue
			}
			if got := fmt.Sprint(lg.Properties["RetentionInDays"]); got != want {
				t.Errorf("LogRetentionDays=%q: %s keeps %s days, want %s", days, group, got, want)
			}
			if got, wantName := lg.Properties["LogGroupName"], "/aws/lambda/herald-dev-"+fn; got != wantName {
				t.Errorf("%s: log group name %v, want %s", fn, got, wantName)
			}
		}
	}
}

// checkHeraldMetric checks one use of a Herald metric against the contract.
func checkHeraldMetric(t *testing.T, where, name string, dims map[string]string, functions []string) {
	t.Helper()
	m, ok := metrics.Catalog[name]
	sets := m.Dimensions
	if !ok {
		t.Errorf("%s: metric Herald/%s is not one the functions write", where, name)
		return
	}
	keys := slices.Sorted(maps.Keys(dims))
	if !slices.ContainsFunc(sets, func(s []string) bool { return slices.Equal(s, keys) }) {
		t.Errorf("%s: Herald/%s with dimensions %v, want one of %v", where, name, keys, sets)
	}
	if !slices.Contains(functions, dims["Function"]) || dims["Function"] != m.Function {
		t.Errorf("%s: Herald/%s Function=%q, want %s, the logical id of the function that writes it", where, name, dims["Function"], m.Function)
	}
	if o, ok := dims["Outcome"]; ok && !slices.Contains(metrics.Outcomes, o) {
		t.Errorf("%s: Herald/%s Outcome=%q, want one of %v", where, name, o, metrics.Outcomes)
	}
}

func TestMetricsAlarmsAndDashboard(t *testing.T) {
	tmpl := loadTemplate(t)
	d := evaluate(t, tmpl, Variants["default"])
	functions := d.OfType("AWS::Serverless::Function")
	alarms := d.OfType("AWS::CloudWatch::Alarm")

	// Alarms on Herald metrics use the agreed names and dimensions.
	for _, id := range alarms {
		p := d.Resources[id].Properties
		stats := []map[string]any{p}
		queries, _ := p["Metrics"].([]any)
		for _, q := range queries {
			stat, _ := q.(map[string]any)["MetricStat"].(map[string]any)
			if m, ok := stat["Metric"].(map[string]any); ok {
				stats = append(stats, m)
			}
		}
		for _, m := range stats {
			if m["Namespace"] != metrics.Namespace {
				continue
			}
			dims := map[string]string{}
			list, _ := m["Dimensions"].([]any)
			for _, e := range list {
				dm := e.(map[string]any)
				dims[fmt.Sprint(dm["Name"])] = fmt.Sprint(dm["Value"])
			}
			checkHeraldMetric(t, "alarm "+id, fmt.Sprint(m["MetricName"]), dims, functions)
		}
	}

	// The dashboard is valid JSON; its Herald metrics keep the contract,
	// and it shows every one of them and every alarm.
	var body struct {
		Widgets []struct {
			Type       string `json:"type"`
			Properties struct {
				Metrics []any    `json:"metrics"`
				Alarms  []string `json:"alarms"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	raw := fmt.Sprint(d.Resources["Dashboard"].Properties["DashboardBody"])
	if err := json.Unmarshal([]byte(raw), &body); err != nil {
		t.Fatalf("dashboard body: %v\n%s", err, raw)
	}
	shown := map[string]bool{}
	var alarmWidget []string
	for _, w := range body.Widgets {
		alarmWidget = append(alarmWidget, w.Properties.Alarms...)
		for _, row := range w.Properties.Metrics {
			r, _ := row.([]any)
			if len(r) < 2 || r[0] != metrics.Namespace {
				continue
			}
			dims := map[string]string{}
			for i := 2; i+1 < len(r); i += 2 {
				k, isKey := r[i].(string)
				if !isKey {
					break
				}
				dims[k] = fmt.Sprint(r[i+1])
			}
			name := fmt.Sprint(r[1])
			checkHeraldMetric(t, "dashboard", name, dims, functions)
			shown[name] = true
		}
	}
	for name := range metrics.Catalog {
		if !shown[name] {
			t.Errorf("the dashboard does not show Herald/%s", name)
		}
	}
	var wantAlarms []string
	for _, id := range alarms {
		wantAlarms = append(wantAlarms, "<"+id+".Arn>")
	}
	sort.Strings(alarmWidget)
	if !reflect.DeepEqual(alarmWidget, wantAlarms) {
		t.Errorf("the dashboard's alarm widget lists %v, want every alarm %v", alarmWidget, wantAlarms)
	}
}

// docs/operations.md has a runbook per alarm: a heading that is the
// alarm's logical id, which the alarm's description links to; and it
// documents every metric and every parameter, as README's table does.
func TestOperationsDocCoversTheTemplate(t *testing.T) {
	tmpl := loadTemplate(t)
	doc, err := os.ReadFile(repoFile(t, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(repoFile(t, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	headings := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#{2,4} (\S+)$`).FindAllStringSubmatch(string(doc), -1) {
		headings[m[1]] = true
	}
	alarms := tmpl.LogicalIDs("AWS::CloudWatch::Alarm")
	for _, id := range alarms {
		if !headings[id] {
			t.Errorf("docs/operations.md has no runbook heading %q", "### "+id)
		}
		desc := fmt.Sprint(tmpl.Resources[id].Properties["AlarmDescription"])
		if !strings.Contains(desc, "docs/operations.md#"+strings.ToLower(id)) {
			t.Errorf("%s: description %q does not link its runbook", id, desc)
		}
	}
	for h := range headings {
		if strings.HasSuffix(h, "Alarm") && !slices.Contains(alarms, h) {
			t.Errorf("docs/operations.md has a runbook for %s, which the template does not define", h)
		}
	}
	for name := range metrics.Catalog {
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/operations.md does not describe the metric %s", name)
		}
	}
	for name, p := range tmpl.Parameters {
		if strings.TrimSpace(p.Description) == "" {
			t.Errorf("parameter %s has no Description; sam deploy --guided shows it", name)
		}
		row := "| `" + name + "` |"
		for file, text := range map[string][]byte{"README.md": readme, "docs/operations.md": doc} {
			if !strings.Contains(string(text), row) {
				t.Errorf("%s has no row for parameter %s", file, name)
			}
		}
	}
}
