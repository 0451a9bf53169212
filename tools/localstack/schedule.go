package localstack

import (
	"context"
	"log/slog"
	"time"
)

// Scheduler stands in for a function's Schedule/ScheduleV2 event: it invokes
// the function with the event's Input every Interval (the template's rate
// is not used, so that local runs need not wait a minute). The delivery
// function's sweep ({"herald":"sweep"}) runs this way under `make dev`.
type Scheduler struct {
	Invoker  Invoker
	Input    []byte
	Interval time.Duration
	Logger   *slog.Logger // nil logs nothing
}

// Run invokes every Interval until ctx ends. An invocation still running
// when the next is due delays it, as one schedule target at a time would.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.Invoker.Invoke(ctx, s.Input); err != nil && ctx.Err() == nil && s.Logger != nil {
			s.Logger.Warn("scheduled invocation failed", "input", string(s.Input), "error", err)
		}
	}
}
