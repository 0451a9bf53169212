package herald

import (
	"testing"
	"time"
)

func TestNextRetrySchedule(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	want := []time.Duration{2 * time.Minute, 6 * time.Minute, 30 * time.Minute, time.Hour, 5 * time.Hour, 24 * time.Hour, 48 * time.Hour}
	for done, d := range want {
		due, ok := NextRetry(done, at, time.Time{})
		if !ok || !due.Equal(at.Add(d)) {
			t.Errorf("NextRetry(%d) = %v, %v; want %v, true", done, due, ok, at.Add(d))
		}
	}
	if _, ok := NextRetry(7, at, time.Time{}); ok {
		t.Errorf("NextRetry(7) scheduled an 8th retry")
	}
	if _, ok := NextRetry(-1, at, time.Time{}); ok {
		t.Errorf("NextRetry(-1) accepted a negative count")
	}
}

func TestNextRetryHonoursRetryAfterOnlyLater(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		done       int
		retryAfter time.Duration
		want       time.Duration
	}{
		"shorter is ignored":  {0, 30 * time.Second, 2 * time.Minute},
		"longer pushes later": {0, 10 * time.Minute, 10*time.Minute + 3*time.Second},
		"capped":              {5, 30 * 24 * time.Hour, MaxRetryAfter + 3*time.Second},
		"zero":                {3, 0, time.Hour},
	}
	for name, tc := range tests {
		// The receiver answered 3 s after the attempt started.
		due, ok := NextRetry(tc.done, at, RetryAfterTime(at.Add(3*time.Second), tc.retryAfter))
		if !ok || due.Sub(at) != tc.want {
			t.Errorf("%s: delay = %v; want %v", name, due.Sub(at), tc.want)
		}
	}
}
