package config

import (
	"bytes"
	"encoding/json"
	"log/slog"
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

// durationCase is one value of a duration variable, and what FromEnv makes
// of it.
type durationCase struct {
	value   string
	wantErr bool
	want    time.Duration
}

// checkDuration runs FromEnv with each value of the variable name and checks
// what got reads from the settings, or that FromEnv refused it.
func checkDuration(t *testing.T, name string, tests map[string]durationCase, got func(Settings) time.Duration) {
	t.Helper()
	for desc, tc := range tests {
		t.Run(desc, func(t *testing.T) {
			vars := map[string]string{name: tc.value, "TABLE_NAME": "t", "DELIVERY_QUEUE_URL": "q", "FIRST_ATTEMPT_QUEUE_URL": "f.fifo"}
			s, err := FromEnv(env(vars))
			if (err != nil) != tc.wantErr {
				t.Fatalf("FromEnv with %s=%q: %v; want error %v", name, tc.value, err, tc.wantErr)
			}
			if err == nil && got(s) != tc.want {
				t.Errorf("%s=%q gives %v; want %v", name, tc.value, got(s), tc.want)
			}
		})
	}
}

// templateParameter reads a parameter of template.yaml, and whether it is
// there.
func templateParameter(t *testing.T, name string) (p struct{ Default, MinValue, MaxValue float64 }, ok bool) {
	t.Helper()
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
	got, ok := tmpl.Parameters[name]
	return struct{ Default, MinValue, MaxValue float64 }(got), ok
}

// TestRetentionOutlivesTheRetrySchedule is issue 10's seventh defect: the
// schedule spans 3.3 days and CallRetentionDays accepted 1, so TTL deleted
// calls whose retries were still parked. The functions refuse what the
// template refuses, and both refuse less than the schedule plus a margin.
func TestRetentionOutlivesTheRetrySchedule(t *testing.T) {
	if min := time.Duration(herald.MinRetentionDays) * 24 * time.Hour; min < herald.RetrySpan()+24*time.Hour {
		t.Errorf("minimum retention %v; the schedule spans %v and needs a day's margin", min, herald.RetrySpan())
	}
	checkDuration(t, "CALL_RETENTION_DAYS", map[string]durationCase{
		"default":            {"", false, 30 * 24 * time.Hour},
		"one day":            {"1", true, 0},
		"three days":         {"3", true, 0},
		"four days":          {"4", true, 0},
		"the minimum":        {strconv.Itoa(herald.MinRetentionDays), false, time.Duration(herald.MinRetentionDays) * 24 * time.Hour},
		"a year":             {"365", false, 365 * 24 * time.Hour},
		"more than the most": {"366", true, 0},
		"not a number":       {"ten", true, 0},
	}, func(s Settings) time.Duration { return s.Retention })

	// template.yaml's bounds are the same.
	p, _ := templateParameter(t, "CallRetentionDays")
	if p.MinValue != herald.MinRetentionDays || p.MaxValue != herald.MaxRetentionDays || p.Default != 30 {
		t.Errorf("template CallRetentionDays: min %v max %v default %v; want %d, %d and the functions' default 30",
			p.MinValue, p.MaxValue, p.Default, herald.MinRetentionDays, herald.MaxRetentionDays)
	}
}

// TestAutoDisableAfterHours: hours, with a fraction for the local stack's
// short windows; 0 turns auto-disable off; the template's default and
// bounds are the functions'.
func TestAutoDisableAfterHours(t *testing.T) {
	checkDuration(t, "AUTO_DISABLE_AFTER_HOURS", map[string]durationCase{
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
	}, func(s Settings) time.Duration { return s.AutoDisableAfter })
	p, ok := templateParameter(t, "AutoDisableAfterHours")
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
