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
