package benchkit

import (
	"syscall"
	"testing"
	"time"
)

// CPUTimer measures the CPU time (user and system, every thread) the test
// process spends during a benchmark loop. Unlike ns/op it does not count time
// spent waiting, and it does count work done on other goroutines, such as an
// in-process receiver's or a batch's concurrent sends.
type CPUTimer struct{ start time.Duration }

// StartCPU starts measuring; call it just before the benchmark loop.
func StartCPU() CPUTimer { return CPUTimer{start: ProcessCPU()} }

// Report adds the metric "cpu-ns/op" to b; call it just after the loop.
func (c CPUTimer) Report(b *testing.B) {
	b.Helper()
	if b.N == 0 {
		return
	}
	b.ReportMetric(float64(ProcessCPU()-c.start)/float64(b.N), "cpu-ns/op")
}

// ProcessCPU returns the CPU time (user and system) the process has used so
// far, every thread included; 0 if the system does not say.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
