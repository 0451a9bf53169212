package deploy

// Namespace is the CloudWatch namespace of Herald's own metrics.
const Namespace = "Herald"

// Metrics are the metrics the functions write as embedded metric format
// log lines, by name, with the dimension sets each is written under. The
// template's alarms and dashboard read them (a test holds them to this
// list), herald-cost counts them as custom metrics, and docs/operations.md
// describes them. Function is a logical id ("DeliveryFunction"), not the
// deployed name, so that alarms and the dashboard can name it statically.
var Metrics = map[string][][]string{
	"Deliveries":      {{"Function"}, {"Function", "Outcome"}},
	"AttemptDuration": {{"Function"}},
	"EndToEndDelay":   {{"Function"}},
	"IngestEvents":    {{"Function"}},
	"IngestMatches":   {{"Function"}},
	"SweepBacklog":    {{"Function"}},
	"SweepLag":        {{"Function"}},
}

// Outcomes are the values of Deliveries' Outcome dimension.
var Outcomes = []string{"success", "failed", "rescheduled", "not_sent"}

// MetricFunctions is the one function that writes each metric.
var MetricFunctions = map[string]string{
	"Deliveries":      "DeliveryFunction",
	"AttemptDuration": "DeliveryFunction",
	"EndToEndDelay":   "DeliveryFunction",
	"IngestEvents":    "IngestFunction",
	"IngestMatches":   "IngestFunction",
	"SweepBacklog":    "DeliveryFunction",
	"SweepLag":        "DeliveryFunction",
}

// CustomMetricCount is how many metrics CloudWatch bills for the list
// above: one per name and combination of dimension values.
func CustomMetricCount() int {
	n := 0
	for _, sets := range Metrics {
		for _, dims := range sets {
			combos := 1
			for _, d := range dims {
				if d == "Outcome" {
					combos *= len(Outcomes)
				}
			}
			n += combos
		}
	}
	return n
}
