package delivery

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
)

// SweepInput is the scheduled event that asks for a sweep (template.yaml,
// DeliveryFunction's Sweep event).
type SweepInput struct {
	Herald string `json:"herald"`
}

// SweepOutput reports a sweep.
type SweepOutput struct {
	Queued int `json:"queued"`
}

// Invoke is the function's entry point: an SQS batch from the event source
// mapping, or {"herald":"sweep"} from the schedule.
func (h *Handler) Invoke(ctx context.Context, payload json.RawMessage) (any, error) {
	var probe struct {
		Records json.RawMessage `json:"Records"`
		Herald  string          `json:"herald"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		return nil, fmt.Errorf("decode invocation: %w", err)
	}
	switch {
	case probe.Records != nil:
		var ev events.SQSEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("decode SQS event: %w", err)
		}
		return h.HandleSQS(ctx, ev)
	case probe.Herald == "sweep":
		n, err := h.Sweep(ctx)
		return SweepOutput{Queued: n}, err
	default:
		return nil, fmt.Errorf("unknown invocation: want an SQS event or {\"herald\":\"sweep\"}")
	}
}
