package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// What the emulator does, as found by running it (aws-lambda-rie at
// v0.0.0-20261030222936-bef5c4ba774d with an aws-lambda-go bootstrap):
//
//   - It starts the bootstrap lazily, on the first invoke, and serves one
//     invocation at a time. A second concurrent invoke crashes the emulator
//     itself (a nil dereference after "ReserveFailed: AlreadyReserved"), so
//     each instance here takes one invocation at a time.
//   - Its Runtime API listens on 127.0.0.1:9001 unless told otherwise, so two
//     instances on one host collide: each gets its own --runtime-api-address.
//   - It reads LOG_LEVEL for its own logging, and passes its whole
//     environment to the function. The function's LOG_LEVEL would change the
//     emulator's, so --log-level is set explicitly.
//   - A handler error: HTTP 200 with {"errorMessage","errorType"} as the
//     body, and no header to tell it from a result.
//   - A crash (the process exits, or aws-lambda-go's panic handler exits after
//     reporting the panic): HTTP 502 with {"errorType":"Runtime.ExitError",
//     "errorMessage":"RequestId: … Error: Runtime exited with error: exit
//     status N"}, or the panic's error document.
//   - A bootstrap that exits during init, or cannot be executed: HTTP 502
//     with an empty body.
//   - A timeout (AWS_LAMBDA_FUNCTION_TIMEOUT seconds): the runtime is killed
//     and the answer is HTTP 200 with the plain text "Task timed out after
//     N.00 seconds".
//   - After a crash or a timeout the emulator stays up, and the next invoke
//     starts the bootstrap again (a new init, logged "INIT START(type:
//     on-demand, phase: invoke)"), so no restart is needed; the instance is
//     restarted only if the emulator process itself is gone or stops
//     answering.
//   - It prints "REPORT RequestId: … Init Duration: X ms" only for the first
//     invoke after it starts, and that figure measures only the call that
//     starts the init, not the init: "INIT REPORT(durationMs: X)", logged on
//     every init at info level, is the real one, so InitDuration reads that.
//   - It starts the bootstrap in a process group of its own; on SIGTERM it
//     kills it, on SIGKILL it does not (Process.Stop handles both).

// invokePath is the emulator's invocation endpoint.
const invokePath = "/2015-03-31/functions/function/invocations"

// invokeGrace is how much longer than the function's timeout an invocation
// may take before the emulator itself is deemed stuck.
const invokeGrace = 10 * time.Second

// HostBuildDir is where host-architecture bootstraps are built:
// $HERALD_HOST_BUILD, else .build/host under the repository root.
func HostBuildDir() (string, error) {
	return repoPath("HERALD_HOST_BUILD", "", ".build", "host")
}

// ErrorKind tells how an invocation failed.
type ErrorKind string

// The ways a function invocation fails.
const (
	KindError   ErrorKind = "error"   // the handler returned an error
	KindCrash   ErrorKind = "crash"   // the runtime process exited (a panic or os.Exit), or never started
	KindTimeout ErrorKind = "timeout" // the function ran past its timeout and was killed
)

// FunctionError is a failed invocation, as Lambda reports it with
// X-Amz-Function-Error: the function ran, and failed.
type FunctionError struct {
	Kind    ErrorKind
	Type    string // errorType
	Message string // errorMessage
	Payload []byte // what the emulator answered
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("function %s: %s: %s", e.Kind, e.Type, e.Message)
}

// PoolConfig describes a pool of emulator instances running one function.
type PoolConfig struct {
	Function   string // logical id; AWS_LAMBDA_FUNCTION_NAME
	Bootstrap  string
	Env        map[string]string // the function's environment
	Timeout    time.Duration
	MemorySize int
	Size       int       // instances; at least 1
	BasePort   int       // instance i listens on BasePort+2i (Runtime API on +1); 0 picks free ports
	Logs       io.Writer // every line the instances print, prefixed; nil discards
}

// Pool runs a function under N emulator instances and hands each invocation
// to a free one, as Lambda runs concurrent invocations in separate execution
// environments.
type Pool struct {
	cfg       PoolConfig
	rie       string // the emulator binary
	instances []*Instance
	free      chan *Instance
	stopping  chan struct{}
	stopOnce  sync.Once
	inflight  sync.WaitGroup
	client    *http.Client
}

// Instance is one emulator process and its log.
type Instance struct {
	pool    *Pool
	index   int
	addr    string // invocation address
	apiAddr string // Runtime API address
	log     *instanceLog

	mu       sync.Mutex
	proc     *Process
	restarts int
	running  []byte // the payload of the invocation under way, if any
	invokes  int    // invocations started
	taken    int    // invocations the runtime took, each logged "INVOKE START("
}

// StartPool starts cfg.Size emulator instances and waits until each listens.
func StartPool(ctx context.Context, cfg PoolConfig) (*Pool, error) {
	if cfg.Size < 1 {
		cfg.Size = 1
	}
	rie, err := repoPath("HERALD_RIE", "aws-lambda-rie", ".bin", "aws-lambda-rie")
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(cfg.Bootstrap); err != nil || fi.IsDir() {
		return nil, fmt.Errorf("%s: no bootstrap at %s: run `make host-build`", cfg.Function, cfg.Bootstrap)
	}
	p := &Pool{
		cfg:      cfg,
		rie:      rie,
		free:     make(chan *Instance, cfg.Size),
		stopping: make(chan struct{}),
		// A restarted instance listens on the same address: a kept-alive
		// connection to its predecessor would fail the next invoke.
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
	}
	for i := range cfg.Size {
		inst := &Instance{pool: p, index: i, log: newInstanceLog(fmt.Sprintf("%s#%d", cfg.Function, i), cfg.Logs)}
		p.instances = append(p.instances, inst)
		err := inst.pickPorts()
		if err == nil {
			err = inst.start(ctx)
		}
		if err != nil {
			p.Stop()
			return nil, err
		}
		p.free <- inst
	}
	return p, nil
}

// Function is the logical id the pool runs.
func (p *Pool) Function() string { return p.cfg.Function }

// Instances are the pool's emulator instances.
func (p *Pool) Instances() []*Instance { return p.instances }

// Size is the number of instances.
func (p *Pool) Size() int { return len(p.instances) }

// Invoke runs the function once with payload on a free instance, waiting for
// one. It returns the function's result; if the function failed, the error is
// a *FunctionError and the bytes are the emulator's answer. If ctx ends first
// the invocation still runs to its end, as on Lambda, before its instance
// takes another.
func (p *Pool) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var inst *Instance
	select {
	case inst = <-p.free:
	case <-p.stopping:
		return nil, fmt.Errorf("invoke %s: the pool is stopped", p.cfg.Function)
	case <-ctx.Done():
		return nil, fmt.Errorf("invoke %s: waiting for a free instance: %w", p.cfg.Function, ctx.Err())
	}
	var body []byte
	var err error
	done := make(chan struct{})
	p.inflight.Go(func() {
		body, err = inst.invoke(payload)
		p.free <- inst
		close(done)
	})
	select {
	case <-done:
		return body, err
	case <-ctx.Done():
		return nil, fmt.Errorf("invoke %s: %w", p.cfg.Function, ctx.Err())
	}
}

// Stop stops every instance. Invocations in flight end with an error.
func (p *Pool) Stop() {
	p.stopOnce.Do(func() { close(p.stopping) })
	for _, inst := range p.instances {
		inst.process().Stop()
	}
	p.inflight.Wait()
	// An invocation that failed as the pool stopped may have restarted its
	// instance in the meantime.
	for _, inst := range p.instances {
		inst.process().Stop()
	}
}

// URL is the instance's invocation URL.
func (i *Instance) URL() string { return "http://" + i.addr + invokePath }

// Logs returns what the instance printed lately (its last 1 MiB).
func (i *Instance) Logs() string {
	i.awaitLog()
	return i.log.String()
}

// InitDuration is how long the function's last init took, as the emulator
// reported it, and false before the first init.
func (i *Instance) InitDuration() (time.Duration, bool) {
	d := i.awaitLog().lastInit
	return d, d > 0
}

// Inits counts the function's inits (cold starts) on this instance: one on
// the first invoke, and one more on the invoke after each crash or timeout.
func (i *Instance) Inits() int { return i.awaitLog().inits }

// logLag bounds how long awaitLog waits for the emulator's log.
const logLag = 2 * time.Second

// awaitLog waits until the log has caught up with the invocations answered
// so far, and returns its counts. The emulator writes an init's lines
// before "INVOKE START(", and that line before the runtime sees the
// invocation, but they reach us through a pipe that another goroutine
// reads: without the wait, a caller that reads the log just after an answer
// may not find its init there yet.
func (i *Instance) awaitLog() logCounts {
	i.mu.Lock()
	taken := i.taken
	i.mu.Unlock()
	for deadline := time.Now().Add(logLag); ; time.Sleep(2 * time.Millisecond) {
		if c := i.log.counts(); c.starts >= taken || time.Now().After(deadline) {
			return c
		}
	}
}

// Restarts counts how often the emulator process was started again.
func (i *Instance) Restarts() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.restarts
}

// pickPorts gives the instance its invocation and Runtime API addresses:
// BasePort's, else free ports.
func (i *Instance) pickPorts() error {
	base := i.pool.cfg.BasePort + 2*i.index
	ports := []int{base, base + 1}
	for n := range ports {
		if i.pool.cfg.BasePort != 0 {
			break
		}
		var err error
		if ports[n], err = freePort(); err != nil {
			return err
		}
	}
	i.addr, i.apiAddr = "127.0.0.1:"+strconv.Itoa(ports[0]), "127.0.0.1:"+strconv.Itoa(ports[1])
	return nil
}

func (i *Instance) start(ctx context.Context) error {
	for try := 1; ; try++ {
		losses := i.log.portLosses()
		err := i.startOnce(ctx)
		if err == nil || i.pool.cfg.BasePort != 0 || try == 3 || i.log.portLosses() == losses {
			return err
		}
		// Another process took a port between freePort and the emulator's
		// bind (test suites run side by side): new ports, and again.
		if i.pickPorts() != nil {
			return err
		}
		i.log.note("a port was taken; starting the emulator on new ones")
	}
}

func (i *Instance) startOnce(ctx context.Context) error {
	cfg := i.pool.cfg
	// #nosec G204 -- the emulator and bootstrap the developer's stack names
	cmd := exec.Command(i.pool.rie,
		"--log-level", "info",
		"--runtime-interface-emulator-address", i.addr,
		"--runtime-api-address", i.apiAddr,
		cfg.Bootstrap)
	cmd.Dir = filepath.Dir(cfg.Bootstrap)
	cmd.Env = i.environ()
	proc, err := startProcess(ctx, i.log.name, cmd, i.log, i.addr, 10*time.Second)
	if err != nil {
		return fmt.Errorf("%w (see its log:\n%s)", err, i.log.String())
	}
	i.mu.Lock()
	i.proc = proc
	i.mu.Unlock()
	return nil
}

// environ is the emulator's environment, which it passes on to the
// function: what Lambda sets, then the function's own. Nothing comes from
// the host but PATH, as in Lambda's clean environment.
func (i *Instance) environ() []string {
	cfg := i.pool.cfg
	env := map[string]string{
		"PATH":                            os.Getenv("PATH"),
		"LANG":                            "en_US.UTF-8",
		"TZ":                              ":UTC",
		"LAMBDA_TASK_ROOT":                filepath.Dir(cfg.Bootstrap),
		"AWS_LAMBDA_FUNCTION_NAME":        cfg.Function,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(int(cfg.Timeout / time.Second)),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(cfg.MemorySize),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + cfg.Function,
	}
	maps.Copy(env, cfg.Env)
	if env["AWS_DEFAULT_REGION"] == "" && env["AWS_REGION"] != "" {
		env["AWS_DEFAULT_REGION"] = env["AWS_REGION"]
	}
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// process is the instance's emulator process, nil before it first started.
func (i *Instance) process() *Process {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.proc
}

// restart replaces a dead or stuck emulator process.
func (i *Instance) restart() error {
	i.mu.Lock()
	proc := i.proc
	i.restarts++
	i.mu.Unlock()
	proc.Kill()
	if closed(i.pool.stopping) {
		return nil
	}
	i.log.note("restarting the emulator")
	return i.start(context.Background())
}

// CrashRuntime kills the function's runtime process (the bootstrap) while an
// invocation runs, as a crash or an out-of-memory kill would: the emulator
// stays up, answers the invocation as a Runtime.ExitError, and starts the
// bootstrap again on the next one. It returns the payload of the invocation
// it interrupted, and false if the instance was idle (then nothing is
// killed). With emulator set it kills the emulator process itself instead,
// which the pool restarts.
func (i *Instance) CrashRuntime(emulator bool) ([]byte, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.running == nil || i.proc == nil || i.proc.Exited() {
		return nil, false
	}
	if emulator {
		// Kill waits for the process; the invocation's own goroutine
		// restarts it, after taking i.mu, which is released on return.
		go i.proc.Kill()
		return i.running, true
	}
	runtimes := childProcesses(i.proc.Pid())
	if len(runtimes) == 0 {
		return nil, false
	}
	killSurvivors(runtimes)
	return i.running, true
}

// invoke runs one invocation on this instance, which the caller holds.
func (i *Instance) invoke(payload []byte) ([]byte, error) {
	defer i.setRunning(nil)
	if proc := i.process(); proc == nil || proc.Exited() {
		if closed(i.pool.stopping) {
			return nil, fmt.Errorf("invoke %s: the pool is stopped", i.log.name)
		}
		if err := i.restart(); err != nil {
			return nil, fmt.Errorf("invoke %s: %w", i.log.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), i.pool.cfg.Timeout+invokeGrace)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.URL(), bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", i.log.name, err)
	}
	i.setRunning(payload)
	resp, err := i.pool.client.Do(req)
	if err != nil {
		if closed(i.pool.stopping) {
			return nil, fmt.Errorf("invoke %s: the pool is stopped", i.log.name)
		}
		// The emulator died (it does on a concurrent invoke) or hangs: the
		// invocation's outcome is unknown, as after a crash.
		i.log.note(fmt.Sprintf("invocation failed: %v", err))
		if rerr := i.restart(); rerr != nil {
			i.log.note(fmt.Sprintf("restart failed: %v", rerr))
		}
		return nil, &FunctionError{Kind: KindCrash, Type: "Emulator.Failure", Message: err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: read answer: %w", i.log.name, err)
	}
	if resp.StatusCode != http.StatusBadGateway || len(bytes.TrimSpace(body)) > 0 {
		i.mu.Lock()
		i.taken++ // an empty 502 is a bootstrap that died before it took the invocation
		i.mu.Unlock()
	}
	if ferr := classifyAnswer(resp.StatusCode, body); ferr != nil {
		return body, ferr
	}
	return body, nil
}

func (i *Instance) setRunning(payload []byte) {
	i.mu.Lock()
	i.running = payload
	if payload != nil {
		i.invokes++
	}
	i.mu.Unlock()
}

// Running returns the payload of the invocation under way (nil if the
// instance is idle) and the number of invocations the instance has started,
// which tells one invocation from the next.
func (i *Instance) Running() ([]byte, int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.running, i.invokes
}

var timedOut = regexp.MustCompile(`^Task timed out after [0-9.]+ seconds$`)

// classifyAnswer tells a function error from a result in the emulator's
// answer (see the notes at the top of this file).
func classifyAnswer(status int, body []byte) *FunctionError {
	var doc struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	_ = json.Unmarshal(body, &doc) // a result need not be an error document
	trimmed := bytes.TrimSpace(body)
	switch {
	case status == http.StatusOK && timedOut.Match(trimmed):
		return &FunctionError{Kind: KindTimeout, Type: "Sandbox.Timedout", Message: string(trimmed), Payload: body}
	case status == http.StatusOK && isErrorDocument(body):
		return &FunctionError{Kind: KindError, Type: doc.ErrorType, Message: doc.ErrorMessage, Payload: body}
	case status == http.StatusOK:
		return nil
	case status == http.StatusBadGateway && len(trimmed) == 0:
		return &FunctionError{Kind: KindCrash, Type: "Runtime.ExitError", Message: "the bootstrap failed before it took the invocation; see its log", Payload: body}
	case status == http.StatusBadGateway:
		return &FunctionError{Kind: KindCrash, Type: doc.ErrorType, Message: doc.ErrorMessage, Payload: body}
	default:
		return &FunctionError{Kind: KindCrash, Type: "Emulator.Failure", Message: fmt.Sprintf("the emulator answered HTTP %d: %s", status, trimmed), Payload: body}
	}
}

// isErrorDocument reports whether body is what a runtime posts to the
// Runtime API's error endpoint: an object with errorMessage and errorType
// and nothing else but a stack trace or a cause.
func isErrorDocument(body []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil || m["errorType"] == nil || m["errorMessage"] == nil {
		return false
	}
	for k := range m {
		if !slices.Contains([]string{"errorType", "errorMessage", "stackTrace", "cause", "requestId"}, k) {
			return false
		}
	}
	return true
}

// instanceLog keeps the tail of an instance's output, copies each line to
// the shared log with the instance's name, and picks out init reports.
type instanceLog struct {
	name    string
	out     io.Writer
	mu      sync.Mutex
	partial []byte
	tail    []byte
	logCounts
}

// logCounts are what an instance's log has told so far.
type logCounts struct {
	inits    int           // "INIT START(" lines
	starts   int           // "INVOKE START(" lines
	losses   int           // the emulator's binds that found the port taken
	lastInit time.Duration // the last init's duration; 0 before the first
}

const logTail = 1 << 20

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

func newInstanceLog(name string, out io.Writer) *instanceLog {
	return &instanceLog{name: name, out: out}
}

func (l *instanceLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for nl := bytes.IndexByte(l.partial, '\n'); nl >= 0; nl = bytes.IndexByte(l.partial, '\n') {
		l.line(string(l.partial[:nl]))
		l.partial = l.partial[nl+1:]
	}
	return len(b), nil
}

// line takes one complete line; l.mu is held.
func (l *instanceLog) line(s string) {
	l.tail = append(l.tail, s...)
	l.tail = append(l.tail, '\n')
	if len(l.tail) > logTail {
		l.tail = append([]byte(nil), l.tail[len(l.tail)-logTail:]...)
	}
	if strings.Contains(s, "INIT START(") {
		l.inits++
	}
	if strings.Contains(s, "INVOKE START(") {
		l.starts++
	}
	if strings.Contains(s, "failed to listen") && strings.Contains(s, "address already in use") {
		l.losses++
	}
	if m := initReport.FindStringSubmatch(s); m != nil {
		if ms, err := strconv.ParseFloat(m[1], 64); err == nil {
			l.lastInit = time.Duration(ms * float64(time.Millisecond))
		}
	}
	if l.out != nil {
		fmt.Fprintf(l.out, "[%s] %s\n", l.name, s)
	}
}

// note adds a line of the local stack's own to the instance's log.
func (l *instanceLog) note(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.line("localstack: " + s)
}

func (l *instanceLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.tail) + string(l.partial)
}

func (l *instanceLog) counts() logCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.logCounts
}

func (l *instanceLog) portLosses() int { return l.counts().losses }
