package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"syscall"
	"time"
)

// Process is a child process the stack started. It runs in its own process
// group and is killed with the test or tool that started it, even if that one
// dies first (Pdeathsig), so nothing is left behind.
type Process struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProcess(name string, cmd *exec.Cmd, logs io.Writer) (*Process, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if logs != nil {
		cmd.Stdout = logs
		cmd.Stderr = logs
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the process group: SIGTERM, then SIGKILL after a grace period.
func (p *Process) Stop() {
	if p == nil || p.Exited() {
		return
	}
	pgid := -p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-p.done
	}
}

// Kill ends the process group at once, as a crash would.
func (p *Process) Kill() {
	if p == nil || p.Exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
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

// waitListening waits until something accepts connections on addr, or the
// process exits, or ctx ends.
func waitListening(ctx context.Context, p *Process, addr string) error {
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("%s exited before listening on %s: %v", p.Name, addr, p.err)
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("%s did not listen on %s", p.Name, addr), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
