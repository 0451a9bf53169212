package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// machine describes where a run ran, for the result file: the figures mean
// little without it.
type machine struct {
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model,omitempty"`
	MemoryTotal string `json:"memory_total,omitempty"`
	OS          string `json:"os"`
	Go          string `json:"go"`
	LoadAverage string `json:"load_average_at_start,omitempty"`
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(),
		CPUModel: procField("/proc/cpuinfo", "model name"), MemoryTotal: procField("/proc/meminfo", "MemTotal")}
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(raw)); len(f) >= 3 {
			m.LoadAverage = strings.Join(f[:3], " ")
		}
	}
	return m
}

// procField is the value of the first "key: value" line of a /proc file
// that has key; "" where there is none.
func procField(path, key string) string {
	raw, _ := os.ReadFile(path) // #nosec G304 -- one of two fixed /proc files
	for line := range strings.Lines(string(raw)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (m machine) short() string {
	return fmt.Sprintf("%d CPUs, load %s", m.CPUs, m.LoadAverage)
}

// runInfo heads a result file: what ran, when, where, against which stack.
type runInfo struct {
	Command   string    `json:"command"`
	StartedAt time.Time `json:"started_at"`
	Machine   machine   `json:"machine"`
	Stack     *target   `json:"stack"`
}

func newRunInfo(t *target) runInfo {
	return runInfo{Command: strings.Join(append([]string{"herald-load"}, os.Args[1:]...), " "), StartedAt: time.Now().UTC(), Machine: describeMachine(), Stack: t}
}
