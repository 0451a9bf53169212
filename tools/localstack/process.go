package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is a child process the stack started. It runs in its own process
// group and is killed with the test or tool that started it, even if that one
// dies first (Pdeathsig), so nothing is left behind.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startProcess starts cmd and waits up to timeout until it listens on addr;
// one that does not in time is stopped.
func startProcess(ctx context.Context, name string, cmd *exec.Cmd, logs io.Writer, addr string, timeout time.Duration) (*Process, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A grandchild that outlives the process may hold its output pipe; do
	// not let Wait wait for it for long.
	cmd.WaitDelay = 2 * time.Second
	if logs != nil {
		cmd.Stdout = logs
		cmd.Stderr = logs
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for !listening(addr, 200*time.Millisecond) {
		if p.Exited() {
			return nil, fmt.Errorf("%s exited before listening on %s: %v", name, addr, p.err)
		}
		select {
		case <-ctx.Done():
			p.Stop()
			return nil, errors.Join(fmt.Errorf("%s did not listen on %s", name, addr), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return p, nil
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool { return closed(p.done) }

// closed reports whether ch is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Stop ends the process group: SIGTERM, then SIGKILL after a grace period.
// Children that moved to process groups of their own (the emulator starts
// each bootstrap in its own group) are killed too if they outlive it.
func (p *Process) Stop() { p.end(3 * time.Second) }

// Kill ends the process group at once, as a crash would.
func (p *Process) Kill() { p.end(0) }

// end sends SIGTERM and waits up to grace for the process to end, then
// sends SIGKILL.
func (p *Process) end(grace time.Duration) {
	if p == nil || p.Exited() {
		return
	}
	children := childProcesses(p.cmd.Process.Pid)
	pgid := -p.cmd.Process.Pid
	if grace > 0 {
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-p.done:
			killSurvivors(children)
			return
		case <-time.After(grace):
		}
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	// Before waiting: a surviving child holds the output pipe open, and
	// Wait waits for the pipe.
	killSurvivors(children)
	<-p.done
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// procID names a process for as long as it lives: a pid alone can be reused.
type procID struct {
	pid   int
	start string // start time in clock ticks since boot, from /proc/PID/stat
}

// childProcesses lists the direct children of pid, from /proc.
func childProcesses(pid int) []procID {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []procID
	for _, t := range tasks {
		b, err := os.ReadFile(t) // #nosec G304 -- a /proc path this function globbed
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			child, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			if start := processStart(child); start != "" {
				out = append(out, procID{pid: child, start: start})
			}
		}
	}
	return out
}

// statFields reads /proc/PID/stat from its third field on: the command
// name, field 2, is in parentheses and may hold spaces. nil if unreadable.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := strings.LastIndexByte(string(b), ')')
	if err != nil || i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// processStart reads a process's start time (field 22 of /proc/PID/stat),
// "" if there is no such process.
func processStart(pid int) string {
	if f := statFields(pid); len(f) >= 20 {
		return f[19]
	}
	return ""
}

// killSurvivors kills, with their process groups, the processes that are
// still the same ones that were listed.
func killSurvivors(procs []procID) {
	for _, c := range procs {
		if processStart(c.pid) != c.start {
			continue
		}
		if pgid, err := syscall.Getpgid(c.pid); err == nil && pgid == c.pid {
			_ = syscall.Kill(-c.pid, syscall.SIGKILL)
		} else {
			_ = syscall.Kill(c.pid, syscall.SIGKILL)
		}
	}
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// listening reports whether something accepts connections on addr.
func listening(addr string, timeout time.Duration) bool {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err == nil {
		_ = conn.Close() // only the connect mattered
	}
	return err == nil
}
