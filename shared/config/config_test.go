package config

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"maps"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/heraldhq/herald/shared/herald"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// TestRetentionOutlivesTheRetrySchedule is issue 10's seventh defect: the
// schedule spans 3.3 days and CallRetentionDays accepted 1, so TTL deleted
// calls whose retries were still parked. The functions refuse what the
// template refuses, and both refuse less than the schedule plus a margin.
func TestRetentionOutlivesTheRetrySchedule(t *testing.T) {
	if min := time.Duration(herald.MinRetentionDays) * 24 * time.Hour; min < herald.RetrySpan()+24*time.Hour {
		t.Errorf("minimum retention %v; the schedule spans %v and needs a day's margin", min, herald.RetrySpan())
	}
	base := map[string]string{"TABLE_NAME": "t", "DELIVERY_QUEUE_URL": "q", "FIRST_ATTEMPT_QUEUE_URL": "f.fifo"}
	tests := map[string]struct {
		days    string
		wantErr bool
		want    time.Duration
	}{
		"default":            {"", false, 30 * 24 * time.Hour},
		"one day":            {"1", true, 0},
		"three days":         {"3", true, 0},
		"four days":          {"4", true, 0},
		"the minimum":        {strconv.Itoa(herald.MinRetentionDays), false, time.Duration(herald.MinRetentionDays) * 24 * time.Hour},
		"a year":             {"365", false, 365 * 24 * time.Hour},
		"more than the most": {"366", true, 0},
		"not a number":       {"ten", true, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			vars := map[string]string{"CALL_RETENTION_DAYS": tc.days}
			maps.Copy(vars, base)
			s, err := FromEnv(env(vars))
			if (err != nil) != tc.wantErr {
				t.Fatalf("FromEnv with %q: %v; want error %v", tc.days, err, tc.wantErr)
			}
			if err == nil && s.Retention != tc.want {
				t.Errorf("Retention = %v; want %v", s.Retention, tc.want)
			}
		})
	}

	// template.yaml's bounds are the same.
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Parameters map[string]struct {
			Default  int `yaml:"Default"`
			MinValue int `yaml:"MinValue"`
			MaxValue int `yaml:"MaxValue"`
		} `yaml:"Parameters"`
	}
	if err := yaml.Unmarshal(raw, &tmpl); err != nil && !strings.Contains(err.Error(), "!") {
		t.Fatal(err)
	}
	p := tmpl.Parameters["CallRetentionDays"]
	if p.MinValue != herald.MinRetentionDays || p.MaxValue != herald.MaxRetentionDays || p.Default != 30 {
		t.Errorf("template CallRetentionDays: min %d max %d default %d; want %d, %d and the functions' default 30",
			p.MinValue, p.MaxValue, p.Default, herald.MinRetentionDays, herald.MaxRetentionDays)
	}
}

// TestAutoDisableAfterHours: hours, with a fraction for the local stack's
// short windows; 0 turns auto-disable off; the template's default and
// bounds are the functions'.
func TestAutoDisableAfterHours(t *testing.T) {
	base := map[string]string{"TABLE_NAME": "t", "DELIVERY_QUEUE_URL": "q", "FIRST_ATTEMPT_QUEUE_URL": "f.fifo"}
	tests := map[string]struct {
		hours   string
		wantErr bool
		want    time.Duration
	}{
		"default":         {"", false, herald.DefaultAutoDisableAfter},
		"off":             {"0", false, 0},
		"a day":           {"24", false, 24 * time.Hour},
		"36 seconds":      {"0.01", false, 36 * time.Second},
		"a year":          {"8760", false, 8760 * time.Hour},
		"more than that":  {"8761", true, 0},
		"negative":        {"-1", true, 0},
		"not a number":    {"five days", true, 0},
		"not a duration":  {"120h", true, 0},
		"infinite":        {"Inf", true, 0},
		"not even a zero": {"NaN", true, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			vars := map[string]string{"AUTO_DISABLE_AFTER_HOURS": tc.hours}
			maps.Copy(vars, base)
			s, err := FromEnv(env(vars))
			if (err != nil) != tc.wantErr {
				t.Fatalf("FromEnv with %q: %v; want error %v", tc.hours, err, tc.wantErr)
			}
			if err == nil && s.AutoDisableAfter != tc.want {
				t.Errorf("AutoDisableAfter = %v; want %v", s.AutoDisableAfter, tc.want)
			}
		})
	}
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Parameters map[string]struct {
			Default  float64 `yaml:"Default"`
			MinValue float64 `yaml:"MinValue"`
			MaxValue float64 `yaml:"MaxValue"`
		} `yaml:"Parameters"`
	}
	if err := yaml.Unmarshal(raw, &tmpl); err != nil && !strings.Contains(err.Error(), "!") {
		t.Fatal(err)
	}
	p, ok := tmpl.Parameters["AutoDisableAfterHours"]
	if !ok || p.Default != herald.DefaultAutoDisableAfter.Hours() || p.MinValue != 0 || p.MaxValue != MaxAutoDisableAfterHours {
		t.Errorf("template AutoDisableAfterHours: %+v (present %v); want default %v, 0 to %d", p, ok, herald.DefaultAutoDisableAfter.Hours(), MaxAutoDisableAfterHours)
	}
}

func TestLoggerWritesMillisecondTimes(t *testing.T) {
	var buf bytes.Buffer
	Logger(&buf, slog.LevelInfo).Info("attempt", "call_id", "c1")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%s: %v", buf.String(), err)
	}
	ts, _ := line["time"].(string)
	if _, err := time.Parse("2006-01-02T15:04:05.000Z07:00", ts); err != nil || len(ts) != len("2026-11-30T02:45:07.341Z") {
		t.Errorf("time %q, want UTC to the millisecond", ts)
	}
	if line["msg"] != "attempt" || line["call_id"] != "c1" || line["level"] != "INFO" {
		t.Errorf("line %v", line)
	}
}
