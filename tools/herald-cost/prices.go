package main

// AWS list prices, on-demand, us-east-1 (N. Virginia), in USD: every price
// the cost model uses, and only here. Each says where it was read and when;
// change a price here, with its date and source, and every figure follows.
// Free tiers and volume discounts are left out on purpose: the model prices
// the marginal million.

// PricesCheckedOn is when the prices below were last compared with their
// sources.
const PricesCheckedOn = "2026-11-27"

const (
	// Lambda, arm64: duration for the first 7.5 billion GB-seconds a
	// month, and requests. Source: https://aws.amazon.com/lambda/pricing/
	// (as quoted by cloudchipr.com/blog/aws-lambda-pricing, "ARM Pricing:
	// First 7.5 Billion GB-seconds per month: $0.0000133334"), read
	// 2026-11-27.
	LambdaArmPerGBSecond  = 0.0000133334
	LambdaPerMillionCalls = 0.20

	// DynamoDB on-demand, Standard table class: per million write and
	// read request units. Source: https://aws.amazon.com/dynamodb/pricing/on-demand/
	// (as quoted by airbyte.com/data-engineering-resources/dynamodb-pricing,
	// "Write Request Units (WRU): $0.625 per million, Read Request Units
	// (RRU): $0.125 per million", US East), read 2026-11-27.
	DynamoPerMillionWRU = 0.625
	DynamoPerMillionRRU = 0.125

	// DynamoDB storage, Standard table class, per GB-month (indexes
	// included, each item counted with 100 bytes of overhead). Source:
	// https://aws.amazon.com/dynamodb/pricing/ ("prices start from $0.25
	// per GB-month"), read 2026-11-27.
	DynamoPerGBMonth = 0.25

	// DynamoDB continuous backups (point-in-time recovery, on in
	// template.yaml), per GB-month of table size. Source:
	// https://aws.amazon.com/dynamodb/pricing/on-demand/ (as quoted by
	// finops.com.py/services/dynamodb/backups, "$0.20 per GB-month"), read
	// 2026-11-27.
	DynamoPITRPerGBMonth = 0.20

	// SQS standard queue, per million requests (first 100 billion a month);
	// each 64 KB chunk of a request's payload is billed as one request.
	// Source: https://aws.amazon.com/sqs/pricing/ (as quoted by
	// cloudburn.io/blog/amazon-sqs-pricing, "Standard $0.40/M (first
	// 100B)"), read 2026-11-27.
	SQSPerMillionRequests = 0.40

	// SQS FIFO queue, per million requests (first 100 billion a month), each
	// 64 KB chunk a request. Source: https://aws.amazon.com/sqs/pricing/
	// ("FIFO Requests: $0.50" per million, us-east-1), read 2026-11-30.
	SQSFIFOPerMillionRequests = 0.50

	// DynamoDB provisioned capacity, Standard table class, us-east-1: per
	// write capacity unit-hour and read capacity unit-hour, as AWS has
	// listed them for years (https://aws.amazon.com/dynamodb/pricing/provisioned/;
	// the copy of that page read on 2026-11-30 gave the units, not the
	// figures: check them there).
	DynamoPerWCUHour = 0.00065
	DynamoPerRCUHour = 0.00013

	// CloudWatch Logs, Standard log class, per GB ingested: every Lambda
	// log line lands there. Source: https://aws.amazon.com/cloudwatch/pricing/
	// (as quoted by hykell.com/knowledge-base/aws-cloudwatch-logs-pricing,
	// "In standard regions like US East (N. Virginia), AWS charges $0.50 per
	// GB of data collected"), read 2026-11-27.
	LogsPerGBIngested = 0.50
)

// Fixed monthly prices: what template.yaml's monitoring and the
// StaticEgressIp option cost whatever the traffic (fixed.go). Read
// 2026-11-30; the AWS pages load their figures with scripts, so each is
// quoted from a page that states the us-east-1 list price.
const (
	// NAT gateway, per hour it exists and per GB it processes (either
	// direction). Source: https://aws.amazon.com/vpc/pricing/ (as quoted by
	// basavytix.com/blog/aws-nat-gateway-pricing, "$0.045/hr Hourly charge
	// ... $0.045/GB Data processing charge ... These are the us-east-1
	// rates"), read 2026-11-30.
	NATGatewayPerHour = 0.045
	NATGatewayPerGB   = 0.045

	// A public IPv4 address, an Elastic IP on a NAT gateway included, per
	// hour. Source: https://aws.amazon.com/vpc/pricing/ (as quoted by
	// doit.com/aws-public-ipv4-price-increase-the-complete-guide, "every
	// resource with a Public IP: NAT Gateway, ... would cost an extra
	// $0.005/Hour"), read 2026-11-30.
	PublicIPv4PerHour = 0.005

	// An interface VPC endpoint, per hour in each availability zone, and
	// per GB it processes (first PB a month). Source:
	// https://aws.amazon.com/privatelink/pricing/ ("First 1 PB $0.01" per
	// GB; the hourly rate as quoted by awsnegotiations.com/privatelink-cost-analysis,
	// "$0.01/hour per Interface Endpoint per AZ"), read 2026-11-30.
	// Gateway endpoints (DynamoDB's) are free.
	InterfaceEndpointPerAZHour = 0.01
	InterfaceEndpointPerGB     = 0.01

	// CloudWatch, standard resolution: an alarm per metric it watches (a
	// metric-math alarm counts each metric), a dashboard, and a custom
	// metric (first 10,000), each per month. Sources:
	// https://aws.amazon.com/cloudwatch/pricing/ (free tier: "10 Alarm
	// metrics", "3 Dashboards for up to 50 metrics per month"); prices as
	// quoted by c3x.dev/resources/aws/aws_cloudwatch_metric_alarm
	// ("$0.10/alarm-month for standard resolution"),
	// factualminds.com/blog/amazon-cloudwatch-pricing-metrics-logs-alarms-dashboards
	// ("dashboards at $3 each") and cloudonaut.io/aws-cloudwatch-dashboard-cost-efficiency-logs-vs-custom-metrics
	// ("AWS charges $0.30 per custom metric per month"), read 2026-11-30.
	AlarmMetricPerMonth  = 0.10
	DashboardPerMonth    = 3.00
	CustomMetricPerMonth = 0.30

	// X-Ray, per trace recorded beyond 100,000 a month. Source:
	// https://aws.amazon.com/xray/pricing/ (German edition: "Die ersten
	// 100 000 aufgezeichneten Ablaufverfolgungen pro Monat sind kostenfrei
	// ... 5 USD pro Million"), read 2026-11-30.
	XRayPerMillionTraces = 5.00
)
