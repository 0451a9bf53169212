package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func startTestPool(t *testing.T, size int, timeout time.Duration) *Pool {
	t.Helper()
	dir := hostBuild(t, "TestFunction")
	p, err := StartPool(context.Background(), PoolConfig{
		Function:   "TestFunction",
		Bootstrap:  filepath.Join(dir, "TestFunction", "bootstrap"),
		Env:        map[string]string{"LOG_LEVEL": "debug", "CUSTOM": "value"},
		Timeout:    timeout,
		MemorySize: 256,
		Size:       size,
		Logs:       testLogs{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

type okAnswer struct {
	OK  bool              `json:"ok"`
	PID int               `json:"pid"`
	Env map[string]string `json:"env"`
}

func invokeOK(t *testing.T, p *Pool) okAnswer {
	t.Helper()
	out, err := p.Invoke(context.Background(), []byte(`{"mode":"ok"}`))
	if err != nil {
		t.Fatalf("invoke ok: %v", err)
	}
	var a okAnswer
	if err := json.Unmarshal(out, &a); err != nil || !a.OK {
		t.Fatalf("invoke ok: got %s (%v)", out, err)
	}
	return a
}

func wantFunctionError(t *testing.T, err error, kind ErrorKind, errorType, message string) {
	t.Helper()
	var fe *FunctionError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want a *FunctionError", err)
	}
	if fe.Kind != kind || (errorType != "" && fe.Type != errorType) || !strings.Contains(fe.Message, message) {
		t.Errorf("got %s %q %q, want %s %q containing %q", fe.Kind, fe.Type, fe.Message, kind, errorType, message)
	}
}

// TestPoolOutcomes runs the test function through every way an invocation
// ends, on one instance, in order: each failure must leave the instance able
// to serve the next invocation.
func TestPoolOutcomes(t *testing.T) {
	t.Parallel()
	p := startTestPool(t, 1, 2*time.Second)
	inst := p.Instances()[0]
	ctx := context.Background()

	first := invokeOK(t, p)
	for k, want := range map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        "TestFunction",
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     "2",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"CUSTOM":                          "value",
		"LOG_LEVEL":                       "debug",
	} {
		if got := first.Env[k]; got != want {
			t.Errorf("env %s: got %q, want %q", k, got, want)
		}
	}
	if _, leaked := first.Env["HOME"]; leaked {
		t.Errorf("the host's HOME reached the function; want Lambda's clean environment")
	}
	if d, ok := inst.InitDuration(); !ok || d <= 0 {
		t.Errorf("init duration: got %s %v, want a positive one after the first invoke", d, ok)
	}
	if got := inst.Inits(); got != 1 {
		t.Errorf("inits after the first invoke: got %d, want 1", got)
	}
	if again := invokeOK(t, p); again.PID != first.PID {
		t.Errorf("a warm invoke ran in pid %d, want the same process %d", again.PID, first.PID)
	}

	out, err := p.Invoke(ctx, []byte(`{"mode":"error"}`))
	wantFunctionError(t, err, KindError, "errorString", "testfn failed on purpose")
	if !strings.Contains(string(out), "errorMessage") {
		t.Errorf("function error payload: got %s, want the error document", out)
	}
	if got := invokeOK(t, p).PID; got != first.PID {
		t.Errorf("after a handler error: pid %d, want the same process %d", got, first.PID)
	}

	_, err = p.Invoke(ctx, []byte(`{"mode":"crash"}`))
	wantFunctionError(t, err, KindCrash, "Runtime.ExitError", "exit status 3")
	afterCrash := invokeOK(t, p)
	if afterCrash.PID == first.PID {
		t.Errorf("after a crash: same pid %d, want a new process", first.PID)
	}
	if got := inst.Inits(); got != 2 {
		t.Errorf("inits after a crash: got %d, want 2 (the emulator inits again)", got)
	}

	_, err = p.Invoke(ctx, []byte(`{"mode":"panic"}`))
	wantFunctionError(t, err, KindCrash, "", "testfn panicked on purpose")
	invokeOK(t, p)

	_, err = p.Invoke(ctx, []byte(`{"mode":"sleep","ms":5000}`))
	wantFunctionError(t, err, KindTimeout, "Sandbox.Timedout", "Task timed out after 2.00 seconds")
	invokeOK(t, p)

	if got := inst.Restarts(); got != 0 {
		t.Errorf("emulator restarts: got %d, want 0 (it survives crashes and timeouts)", got)
	}
	if logs := inst.Logs(); !strings.Contains(logs, "testfn: crashing on purpose") || !strings.Contains(logs, "testfn: init") {
		t.Errorf("instance log lacks the function's output:\n%s", logs)
	}
}

// TestPoolOneInvocationPerInstance invokes more at once than there are
// instances: the emulator would crash on a second concurrent invocation, so
// the pool must queue them.
func TestPoolOneInvocationPerInstance(t *testing.T) {
	t.Parallel()
	p := startTestPool(t, 2, 5*time.Second)
	var wg sync.WaitGroup
	pids := make([]int, 6)
	errs := make([]error, 6)
	for i := range pids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := p.Invoke(context.Background(), []byte(`{"mode":"sleep","ms":300}`))
			var a okAnswer
			if err == nil {
				err = json.Unmarshal(out, &a)
			}
			pids[i], errs[i] = a.PID, err
		}()
	}
	wg.Wait()
	distinct := map[int]bool{}
	for i, err := range errs {
		if err != nil {
			t.Errorf("invocation %d: %v", i, err)
		}
		distinct[pids[i]] = true
	}
	if len(distinct) != 2 {
		t.Errorf("invocations ran in %d processes, want 2 (one per instance)", len(distinct))
	}
	for _, inst := range p.Instances() {
		if inst.Restarts() != 0 {
			t.Errorf("instance restarted %d times; want 0", inst.Restarts())
		}
	}
}

// TestPoolRestartsDeadEmulator kills an emulator process in the middle of
// an invocation. The emulator does not kill its bootstrap when it is killed
// itself; the pool must, restart the emulator, and serve the next invoke.
func TestPoolRestartsDeadEmulator(t *testing.T) {
	t.Parallel()
	p := startTestPool(t, 1, 10*time.Second)
	inst := p.Instances()[0]
	busy := invokeOK(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := p.Invoke(ctx, []byte(`{"mode":"sleep","ms":8000}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's deadline", err)
	}
	inst.mu.Lock()
	proc := inst.proc
	inst.mu.Unlock()
	proc.Kill()
	if alive(busy.PID) {
		t.Errorf("bootstrap %d, busy in an invocation, outlived its killed emulator", busy.PID)
	}
	after := invokeOK(t, p)
	if got := inst.Restarts(); got != 1 {
		t.Errorf("restarts: got %d, want 1", got)
	}
	p.Stop()
	if alive(after.PID) {
		t.Errorf("bootstrap %d outlived Stop", after.PID)
	}
	if _, err := p.Invoke(context.Background(), []byte(`{}`)); err == nil {
		t.Error("invoke on a stopped pool: got no error")
	}
}

// TestPoolSurvivesATakenPort: when another process takes a port between
// freePort and the emulator's bind (suites running side by side do), the
// emulator dies at start; the pool starts it again on new ports.
func TestPoolSurvivesATakenPort(t *testing.T) {
	t.Parallel()
	p := startTestPool(t, 1, 10*time.Second)
	inst := p.Instances()[0]
	inst.mu.Lock()
	proc := inst.proc
	inst.mu.Unlock()
	proc.Kill()
	taken, err := net.Listen("tcp", inst.apiAddr)
	if err != nil {
		t.Fatalf("take the runtime API's port %s: %v", inst.apiAddr, err)
	}
	defer taken.Close()
	invokeOK(t, p)
	if inst.apiAddr == taken.Addr().String() {
		t.Errorf("the runtime API is still on the taken port %s", inst.apiAddr)
	}
	if got := inst.log.portLosses(); got != 1 {
		t.Errorf("port losses: got %d, want 1", got)
	}
}

// TestCrashRuntime kills an invocation under way, the function's runtime or
// the emulator: the invocation fails as a crash, the killer gets the
// invocation's payload, and the instance serves the next one. On an idle
// instance it kills nothing.
func TestCrashRuntime(t *testing.T) {
	t.Parallel()
	for name, emulator := range map[string]bool{"runtime": false, "emulator": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := startTestPool(t, 1, 10*time.Second)
			inst := p.Instances()[0]
			idle := invokeOK(t, p)
			if _, ok := inst.CrashRuntime(emulator); ok {
				t.Fatal("an idle instance reported a kill")
			}
			if !alive(idle.PID) {
				t.Fatal("CrashRuntime on an idle instance killed its runtime")
			}
			payload := []byte(`{"mode":"sleep","ms":5000}`)
			done := make(chan error, 1)
			go func() {
				_, err := p.Invoke(context.Background(), payload)
				done <- err
			}()
			if running, n := inst.Running(); running != nil || n != 1 {
				t.Errorf("Running on an idle instance = %q, %d; want nil, 1", running, n)
			}
			var got []byte
			for deadline := time.Now().Add(5 * time.Second); got == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				running, n := inst.Running()
				if running == nil {
					continue
				}
				if string(running) != string(payload) || n != 2 {
					t.Fatalf("Running during the invocation = %q, %d; want the payload, 2", running, n)
				}
				if b, ok := inst.CrashRuntime(emulator); ok {
					got = b
				}
			}
			if string(got) != string(payload) {
				t.Fatalf("killed payload: got %q, want %q", got, payload)
			}
			var fe *FunctionError
			if err := <-done; !errors.As(err, &fe) || fe.Kind != KindCrash {
				t.Fatalf("the killed invocation: got %v, want a crash", err)
			}
			if alive(idle.PID) {
				t.Errorf("runtime %d survived the kill", idle.PID)
			}
			after := invokeOK(t, p)
			if after.PID == idle.PID {
				t.Errorf("the next invocation ran in the killed runtime %d", idle.PID)
			}
			wantRestarts := 0
			if emulator {
				wantRestarts = 1
			}
			if got := inst.Restarts(); got != wantRestarts {
				t.Errorf("emulator restarts: got %d, want %d", got, wantRestarts)
			}
		})
	}
}

// TestPoolCallerGivesUp cancels an invocation: it returns at once, and the
// instance takes the next invocation only once the first has finished.
func TestPoolCallerGivesUp(t *testing.T) {
	t.Parallel()
	p := startTestPool(t, 1, 5*time.Second)
	invokeOK(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := p.Invoke(ctx, []byte(`{"mode":"sleep","ms":1500}`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's deadline", err)
	}
	invokeOK(t, p) // would crash the emulator if sent while the sleep runs
	if got := p.Instances()[0].Restarts(); got != 0 {
		t.Errorf("restarts: got %d, want 0", got)
	}
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	// A zombie still answers signal 0; look at its state.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(b), ')'); i >= 0 && strings.HasPrefix(strings.TrimSpace(string(b)[i+1:]), "Z") {
		return false
	}
	return syscall.Kill(pid, 0) == nil
}

// TestLogReadersWaitForTheLog: the emulator's answer can arrive before the
// goroutine that reads its log has read the init's lines (CI once read no
// init duration after the first invoke). What the log tells must wait for
// the lines of every invocation answered so far.
func TestLogReadersWaitForTheLog(t *testing.T) {
	inst := &Instance{log: newInstanceLog("late", nil), taken: 1}
	go func() {
		time.Sleep(50 * time.Millisecond)
		fmt.Fprint(inst.log, "(rapid) INIT START(type: on-demand, phase: init)\n"+
			"(rapid) INIT REPORT(durationMs: 3.500000)\n"+
			"(rapid) INVOKE START(requestId: 1)\n")
	}()
	if d, ok := inst.InitDuration(); !ok || d != 3500*time.Microsecond {
		t.Errorf("init duration: got %s %v, want 3.5ms once the log has caught up", d, ok)
	}
	if got := inst.Inits(); got != 1 {
		t.Errorf("inits: got %d, want 1", got)
	}
}

func TestClassifyAnswer(t *testing.T) {
	tests := map[string]struct {
		status int
		body   string
		want   *FunctionError // nil: a result
	}{
		"result":                {200, `{"ok":true}`, nil},
		"result with error key": {200, `{"errorMessage":"x","errorType":"y","data":1}`, nil},
		"string result":         {200, `"hello"`, nil},
		"handler error":         {200, `{"errorMessage":"boom","errorType":"errorString"}`, &FunctionError{Kind: KindError, Type: "errorString", Message: "boom"}},
		"error with trace":      {200, `{"errorMessage":"boom","errorType":"x","stackTrace":[]}`, &FunctionError{Kind: KindError, Type: "x", Message: "boom"}},
		"timeout":               {200, `Task timed out after 3.00 seconds`, &FunctionError{Kind: KindTimeout, Type: "Sandbox.Timedout", Message: "Task timed out after 3.00 seconds"}},
		"crash":                 {502, `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: 1 Error: Runtime exited with error: exit status 3"}`, &FunctionError{Kind: KindCrash, Type: "Runtime.ExitError", Message: "RequestId: 1 Error: Runtime exited with error: exit status 3"}},
		"init failure":          {502, ``, &FunctionError{Kind: KindCrash, Type: "Runtime.ExitError"}},
		"emulator refusal":      {400, ``, &FunctionError{Kind: KindCrash, Type: "Emulator.Failure"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := classifyAnswer(tt.status, []byte(tt.body))
			if (got == nil) != (tt.want == nil) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if got == nil {
				return
			}
			if got.Kind != tt.want.Kind || got.Type != tt.want.Type || (tt.want.Message != "" && got.Message != tt.want.Message) {
				t.Errorf("got %s %q %q, want %s %q %q", got.Kind, got.Type, got.Message, tt.want.Kind, tt.want.Type, tt.want.Message)
			}
		})
	}
}

// TestFunctionsCPU: the functions' CPU grows with the work they do.
func TestFunctionsCPU(t *testing.T) {
	t.Parallel()
	p := startTestPool(t, 1, 10*time.Second)
	s := &Stack{pools: map[string]*Pool{"TestFunction": p}}
	boot0, emu0 := s.FunctionsCPU()
	if _, err := p.Invoke(context.Background(), []byte(`{"mode":"spin","ms":300}`)); err != nil {
		t.Fatal(err)
	}
	boot, emu := s.FunctionsCPU()
	if got := boot - boot0; got < 200*time.Millisecond {
		t.Errorf("a function that spun 300 ms of CPU: its bootstrap's CPU grew by %v", got)
	}
	if got := emu - emu0; got > 100*time.Millisecond {
		t.Errorf("the emulator's CPU grew by %v for one invocation; the spin is the bootstrap's", got)
	}
}
