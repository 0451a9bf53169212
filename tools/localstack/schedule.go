package localstack

import (
	"context"
	"log/slog"
	"time"
)

// schedule stands in for a function's Schedule/ScheduleV2 event: it invokes
// the function with the event's input every interval until ctx ends (the
// template's rate is not used, so that local runs need not wait a minute).
// The delivery function's sweep ({"herald":"sweep"}) runs this way under
// `make dev`. An invocation still running when the next is due delays it,
// as one schedule target at a time would.
func schedule(ctx context.Context, inv Invoker, input []byte, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := inv.Invoke(ctx, input); err != nil && ctx.Err() == nil {
			log.Warn("scheduled invocation failed", "input", string(input), "error", err)
		}
	}
}
