package localstack

import (
	"strconv"
	"time"
)

// clockTick is the unit of /proc/PID/stat's times: USER_HZ, 100 on Linux
// whatever the kernel's own tick.
const clockTick = 10 * time.Millisecond

// FunctionsCPU is the CPU time the functions' processes have used so far:
// the bootstraps (Herald's code, as Lambda runs it) and the emulators that
// run them (the local stand-in for Lambda's own machinery), each with the
// children it has reaped. Taken before and after a run, the difference is
// the functions' share of it, apart from moto's and the caller's own. An
// emulator restarted meanwhile takes its predecessor's time with it (its
// parent, the caller, reaped it). Zero where /proc cannot be read.
func (s *Stack) FunctionsCPU() (bootstraps, emulators time.Duration) {
	for _, p := range s.pools {
		for _, inst := range p.instances {
			proc := inst.process()
			if proc == nil || proc.Exited() {
				continue
			}
			// The emulator's own time only: a bootstrap it reaped (after a
			// crash) is counted with the bootstraps.
			emu, withReaped := processCPU(proc.Pid())
			emulators += emu
			bootstraps += withReaped - emu
			for _, child := range childProcesses(proc.Pid()) {
				_, t := processCPU(child.pid)
				bootstraps += t
			}
		}
	}
	return bootstraps, emulators
}

// processCPU reads a process's user and system time from /proc/PID/stat:
// its own, and that with its reaped children's.
func processCPU(pid int) (own, withReaped time.Duration) {
	f := statFields(pid)
	// From the state (3) on: ... utime(14) stime(15) cutime(16) cstime(17).
	const utime = 14 - 3
	if len(f) <= utime+3 {
		return 0, 0
	}
	var ticks [4]int64
	for n := range ticks {
		ticks[n], _ = strconv.ParseInt(f[utime+n], 10, 64)
	}
	own = time.Duration(ticks[0]+ticks[1]) * clockTick
	return own, own + time.Duration(ticks[2]+ticks[3])*clockTick
}
