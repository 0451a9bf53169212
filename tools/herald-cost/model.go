package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// assumptions are what a local run cannot measure: AWS's latencies, the
// receiver's, how the CMS batches its invocations, how full the event
// source mappings' batches are, and how the table is billed.
type assumptions struct {
	DynamoLatency    time.Duration // one DynamoDB request, in-region
	SQSLatency       time.Duration // one SQS request
	ReceiverLatency  time.Duration // a receiver's answer to a POST
	EventsPerInvoke  int           // events per ingest invocation
	PlatformLogBytes int           // START, END and REPORT lines per invocation
	// BatchFill is how many messages a delivery invocation gets on
	// average: the batch size under steady traffic, down to 1 when calls
	// trickle in and the batching window is 0 (RetryBatchingWindowSeconds;
	// first attempts, on a FIFO queue, take no window).
	BatchFill float64
	// Provisioned prices the table's capacity as provisioned (BillingMode
	// PROVISIONED in template.yaml) used at Utilization of what auto scaling
	// keeps provisioned, instead of on demand.
	Provisioned bool
	Utilization float64
}

// fullVCPUMemoryMB is the memory size at which Lambda gives a function one
// full vCPU; CPU share scales linearly below it (Lambda developer guide,
// "Configuring Lambda function memory").
const fullVCPUMemoryMB = 1769

// line is one row of the cost table: a quantity per delivered webhook and
// its price.
type line struct {
	Item     string
	PerCall  float64 // quantity per delivered webhook
	Unit     string
	Price    float64 // USD per unit
	Note     string
	USDPerM  float64 // USD per million delivered webhooks
	Subtotal bool
}

// model prices one delivered webhook of a scenario.
type model struct {
	d deployment
	a assumptions
	m Measurement // counts, request units and sizes (accounted run)
	t Measurement // CPU and wall (plain run)
}

// cpuShare is the fraction of a vCPU the functions get.
func (md model) cpuShare() float64 { return math.Min(1, float64(md.d.MemoryMB)/fullVCPUMemoryMB) }

func (md model) gb() float64 { return float64(md.d.MemoryMB) / 1024 }

// ingestSecondsPerEvent: claim the event, write its calls (concurrently),
// queue the jobs (ten per request); plus the CPU the run measured, slowed to
// the function's share of a vCPU.
func (md model) ingestSecondsPerEvent() float64 {
	matches := md.m.Matches
	wait := 2*md.a.DynamoLatency + time.Duration((matches+9)/10)*md.a.SQSLatency
	return wait.Seconds() + md.t.Ingest.cpuPerUnit()/md.cpuShare()
}

// fill is the messages a delivery invocation gets.
func (md model) fill() float64 {
	if md.a.BatchFill <= 0 {
		return float64(md.d.BatchSize)
	}
	return math.Min(md.a.BatchFill, float64(md.d.BatchSize))
}

// deliverySecondsPerCall: a batch's messages run concurrently, each making
// the DynamoDB requests the accounted run counted for it (one after
// another), POSTing, and queueing a retry when it fails; the batch's CPU,
// as the plain run timed it, is shared.
func (md model) deliverySecondsPerCall(counted, timed phase, extraSQS bool) float64 {
	_, _, reads, writes := dynamoPer(counted)
	wait := time.Duration(math.Ceil(reads+writes))*md.a.DynamoLatency + md.a.ReceiverLatency
	if extraSQS {
		wait += md.a.SQSLatency
	}
	b := md.fill()
	return (wait.Seconds() + b*timed.cpuPerUnit()/md.cpuShare()) / b
}

func (p phase) cpuPerUnit() float64 { return p.CPU.Seconds() / float64(p.Units) }

func (p phase) logBytesPerUnit() float64 { return float64(p.LogBytes) / float64(p.Units) }

// dynamoPer sums request units and write/read calls per unit of a phase.
func dynamoPer(p phase) (rru, wru float64, reads, writes float64) {
	for op, u := range p.Dynamo {
		rru += u.RRU
		wru += u.WRU + u.IdxWRU
		switch op {
		case "GetItem", "Query", "BatchGetItem", "Scan":
			reads += float64(u.Calls)
		default:
			writes += float64(u.Calls)
		}
	}
	n := float64(p.Units)
	return rru / n, wru / n, reads / n, writes / n
}

func sqsPer(p phase) float64 {
	n := 0
	for op, c := range p.Calls {
		if strings.HasPrefix(op, "SQS.") {
			n += c
		}
	}
	return float64(n) / float64(p.Units)
}

// firstSuccess prices a webhook delivered on its first attempt.
func (md model) firstSuccess() []line {
	return md.lines([2]phase{md.m.FirstSuccess, md.t.FirstSuccess})
}

// retried prices a webhook whose first attempt failed and whose first
// retry succeeded: two delivery invocations' worth, and the retry's trip
// through the queue.
func (md model) retried() []line {
	return md.lines([2]phase{md.m.FailedAttempt, md.t.FailedAttempt}, [2]phase{md.m.RetrySuccess, md.t.RetrySuccess})
}

// lines prices a webhook delivered by the attempts given, each as the
// accounted run and the plain one measured it; every attempt but the last
// queues a retry.
func (md model) lines(attempts ...[2]phase) []line {
	perEvent := 1 / float64(md.m.Matches) // events per call
	b := md.fill()

	invocations := perEvent / float64(md.a.EventsPerInvoke)
	seconds := md.ingestSecondsPerEvent() * perEvent
	rru, wru, _, _ := dynamoPer(md.m.Ingest)
	rru, wru = rru*perEvent, wru*perEvent
	// First attempts travel on the FIFO queue: ingest's batch sends and the
	// event source mapping's receive and delete, a batch at a time. Retries
	// go on the standard queue: the handler's sends, and the mapping's
	// receive and delete for them.
	fifoReq := sqsPer(md.m.Ingest)*perEvent + 2/b
	stdReq := 0.0
	logBytes := md.m.Ingest.logBytesPerUnit() * perEvent
	for i, at := range attempts {
		m, t := at[0], at[1]
		invocations += 1 / b
		seconds += md.deliverySecondsPerCall(m, t, i < len(attempts)-1)
		r, w, _, _ := dynamoPer(m)
		rru, wru = rru+r, wru+w
		sends := sqsPer(m)
		if i > 0 {
			sends += 2 / b
		}
		stdReq += sends
		logBytes += m.logBytesPerUnit()
	}
	if md.d.PlatformLogs {
		logBytes += invocations * float64(md.a.PlatformLogBytes)
	}

	stored := md.storedPerCall()
	months := float64(md.d.RetentionDays) / (365.25 / 12)
	gbMonths := stored / (1 << 30) * months

	writePrice, readPrice, capacityNote := DynamoPerMillionWRU/1e6, DynamoPerMillionRRU/1e6, "on demand"
	if md.a.Provisioned {
		// A WCU is a write a second, an RCU a strongly consistent 4 KB
		// read a second (or two eventually consistent), paid by the hour
		// whether used or not: a unit used costs the hour's price spread
		// over the seconds it is used.
		writePrice = DynamoPerWCUHour / (3600 * md.a.Utilization)
		readPrice = DynamoPerRCUHour / (3600 * md.a.Utilization)
		capacityNote = fmt.Sprintf("provisioned, %.0f%% used", 100*md.a.Utilization)
	}
	out := []line{
		{Item: "Lambda requests", PerCall: invocations, Unit: "request", Price: LambdaPerMillionCalls / 1e6,
			Note: fmt.Sprintf("ingest per event (CMS batch of %d), delivery per batch of %.3g", md.a.EventsPerInvoke, b)},
		{Item: "Lambda arm64 duration", PerCall: seconds * md.gb(), Unit: "GB-s", Price: LambdaArmPerGBSecond,
			Note: fmt.Sprintf("%d MB; %s billed per webhook", md.d.MemoryMB, ms(seconds))},
		{Item: "DynamoDB writes", PerCall: wru, Unit: "WRU", Price: writePrice, Note: "table and GSI writes, from item sizes; " + capacityNote},
		{Item: "DynamoDB reads", PerCall: rru, Unit: "RRU", Price: readPrice, Note: "from item sizes; " + capacityNote},
		{Item: "DynamoDB storage", PerCall: gbMonths, Unit: "GB-month", Price: DynamoPerGBMonth,
			Note: fmt.Sprintf("%d B kept %d days", int(stored), md.d.RetentionDays)},
	}
	if md.d.PITR {
		out = append(out, line{Item: "DynamoDB PITR backups", PerCall: gbMonths, Unit: "GB-month", Price: DynamoPITRPerGBMonth, Note: "point-in-time recovery is on in template.yaml"})
	}
	out = append(out,
		line{Item: "SQS FIFO requests", PerCall: fifoReq, Unit: "request", Price: SQSFIFOPerMillionRequests / 1e6,
			Note: "first attempts: ingest's sends, the event source mapping's receive + delete per batch"},
		line{Item: "SQS requests", PerCall: stdReq, Unit: "request", Price: SQSPerMillionRequests / 1e6,
			Note: "retries: the handler's sends, the mapping's receive + delete per batch"},
		line{Item: "CloudWatch Logs", PerCall: logBytes / (1 << 30), Unit: "GB", Price: LogsPerGBIngested,
			Note: fmt.Sprintf("%d B of log lines", int(logBytes))},
	)
	total := 0.0
	for i := range out {
		out[i].USDPerM = out[i].PerCall * out[i].Price * 1e6
		total += out[i].USDPerM
	}
	return append(out, line{Item: "Total", USDPerM: total, Subtotal: true})
}

// storedPerCall is the bytes the table keeps per delivered webhook: its
// call item, any index entry of it, and its share of the event item, each
// with DynamoDB's 100 bytes of overhead per item.
func (md model) storedPerCall() float64 {
	const overhead = 100
	stored := md.m.CallItemBytes + overhead + (md.m.EventItemBytes+overhead)/float64(md.m.Matches)
	if md.m.CallIndexBytes > 0 {
		stored += md.m.CallIndexBytes + overhead
	}
	return stored
}
