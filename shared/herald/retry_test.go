package herald

import (
	"testing"
	"time"
)

func TestNextRetrySchedule(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	want := []time.Duration{2 * time.Minute, 6 * time.Minute, 30 * time.Minute, time.Hour, 5 * time.Hour, 24 * time.Hour, 48 * time.Hour}
	for done, d := range want {
		due, ok := NextRetry(done, at, 0)
		if !ok || !due.Equal(at.Add(d)) {
			t.Errorf("NextRetry(%d) = %v, %v; want %v, true", done, due, ok, at.Add(d))
		}
	}
	if _, ok := NextRetry(7, at, 0); ok {
		t.Errorf("NextRetry(7) scheduled an 8th retry")
	}
	if _, ok := NextRetry(-1, at, 0); ok {
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
		"longer pushes later": {0, 10 * time.Minute, 10 * time.Minute},
		"capped":              {6, 30 * 24 * time.Hour, MaxRetryAfter},
		"zero":                {3, 0, time.Hour},
	}
	for name, tc := range tests {
		due, ok := NextRetry(tc.done, at, tc.retryAfter)
		if !ok || due.Sub(at) != tc.want {
			t.Errorf("%s: delay = %v; want %v", name, due.Sub(at), tc.want)
		}
	}
}
