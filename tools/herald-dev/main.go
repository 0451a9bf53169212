// Command herald-dev runs Herald's local stack without Docker.
//
//	herald-dev up                                  moto, the functions under the emulator, the gateway on 127.0.0.1:3000
//	herald-dev invoke -function FN -event FILE     one invocation against the running stack, like sam local invoke
//
// `make dev` and `make invoke` run it with the tools' paths set.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/metrics"
	"github.com/heraldhq/herald/tools/command"
	"github.com/heraldhq/herald/tools/harness"
	"github.com/heraldhq/herald/tools/localstack"
)

func main() { command.Main("herald-dev", run) }

var run = command.Subcommands("herald-dev", map[string]command.Run{"up": up, "invoke": invoke})

// invoke runs one function once against the running stack, as `sam local
// invoke --env-vars events/env.json` would, and prints its result.
func invoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("herald-dev invoke", flag.ContinueOnError)
	function := fs.String("function", "", "logical id of the function (IngestFunction, DeliveryFunction, ApiFunction; required)")
	eventPath := fs.String("event", "", "JSON event file, or - for standard input (required)")
	if err := command.Parse(fs, args, stderr, func() bool { return *function != "" && *eventPath != "" }); err != nil {
		return err
	}
	var payload []byte
	var err error
	if *eventPath == "-" {
		payload, err = io.ReadAll(os.Stdin)
	} else {
		payload, err = os.ReadFile(*eventPath)
	}
	if err != nil {
		return fmt.Errorf("read the event: %w", err)
	}
	root, err := localstack.RepoRoot()
	if err != nil {
		return err
	}
	opts := localstack.Options{Root: root, Logs: &functionLogs{out: stderr}}
	// A stack started on other ports says where its moto is (there is no
	// dev.env while none runs).
	if env, err := localstack.ReadDevEnv(localstack.DevEnvPath(root)); err == nil && env["HERALD_MOTO_URL"] != "" {
		opts.MotoURL = env["HERALD_MOTO_URL"]
	}
	out, err := localstack.InvokeOnce(ctx, opts, *function, payload)
	if len(out) > 0 {
		fmt.Fprintln(stdout, strings.TrimSpace(string(out)))
	}
	if errors.Is(err, localstack.ErrNotRunning) {
		return fmt.Errorf("%w\nstart it with `make dev` in another terminal, then run this again", err)
	}
	return err
}

// Fixed addresses, so that URLs stay the same from one `make dev` to the
// next (events/env.json names moto's). Each function's instances take two
// ports each from its base: invocations on even, the emulator's Runtime
// API on odd.
const (
	motoPort     = 4566
	gatewayPort  = 3000
	receiverPort = 3001
	demoProject  = "demo"
	// The demo webhook, seeded by `make dev`, sends every event of the demo
	// project, operational events included, to the demo receiver, which
	// prints what it gets. Its id is fixed (a ULID, as every webhook id
	// is) so the sample API events (events/api/webhooks-*.json) find it.
	demoWebhookID = "01JDEM0WEBH00K0000000000Z0"
	// sampleToken is the demo project's token in the sample API events
	// (events/api/*.json), so that `make invoke FN=ApiFunction` works with
	// them: "hrld_" and base64url("herald-local-demo-token-00000000").
	sampleToken = "hrld_aGVyYWxkLWxvY2FsLWRlbW8tdG9rZW4tMDAwMDAwMDA" // #nosec G101 -- public by design: the local demo project's token, in events/api/*.json
)

var functionPorts = map[string]int{
	localstack.APIFunction:      9100,
	localstack.IngestFunction:   9200,
	localstack.DeliveryFunction: 9300,
}

func up(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("herald-dev up", flag.ContinueOnError)
	instances := fs.Int("instances", 2, "emulator instances per function (the delivery queue gets as many pollers)")
	sweep := fs.Duration("sweep", 10*time.Second, "how often the delivery function's sweep runs")
	verbose := fs.Bool("v", false, "show the emulator's own INFO lines too")
	autoDisable := fs.Duration("auto-disable-after", 0, "disable a webhook whose attempts all failed for this long "+
		"(AutoDisableAfterHours, 120 h by default; 30s shows it within a minute: docs/endpoint-health.md)")
	if err := command.Parse(fs, args, stderr, nil); err != nil {
		return err
	}
	overrides, err := autoDisableOverride(*autoDisable)
	if err != nil {
		fmt.Fprintln(stderr, "herald-dev up:", err)
		return command.ErrUsage
	}
	root, err := localstack.RepoRoot()
	if err != nil {
		return err
	}
	for _, port := range []int{motoPort, gatewayPort, receiverPort} {
		if err := portFree(port); err != nil {
			return err
		}
	}
	stateDir := filepath.Join(root, ".herald")
	if err := os.MkdirAll(stateDir, 0o750); err != nil {
		return fmt.Errorf("create %s: %w", stateDir, err)
	}
	motoLog, err := os.Create(filepath.Join(stateDir, "moto.log")) // #nosec G304 -- a fixed name in this checkout's state directory
	if err != nil {
		return fmt.Errorf("create moto's log: %w", err)
	}
	defer motoLog.Close()

	sizes := map[string]int{}
	for fn := range functionPorts {
		sizes[fn] = *instances
	}
	logs := &functionLogs{out: stderr, verbose: *verbose}
	fmt.Fprintln(stderr, "herald-dev: starting moto, the functions and the gateway…")
	stack, err := localstack.Start(ctx, localstack.Options{
		MotoPort:      motoPort,
		GatewayPort:   gatewayPort,
		FunctionPorts: functionPorts,
		PoolSizes:     sizes,
		SweepInterval: *sweep,
		Overrides:     overrides,
		Logs:          logs,
		MotoLogs:      motoLog,
		Logger:        slog.New(slog.NewTextHandler(stderr, nil)),
	})
	if err != nil {
		return err
	}
	defer stack.Stop()

	token, rcv, err := seedDemo(ctx, stack, receiverPort, stderr)
	if err != nil {
		return err
	}
	defer rcv.Close()
	envPath := localstack.DevEnvPath(root)
	env := strings.Join([]string{
		"HERALD_API_URL=" + stack.APIURL,
		"HERALD_PROJECT=" + demoProject,
		"HERALD_TOKEN=" + token,
		"HERALD_INGEST_URL=" + stack.IngestURL,
		"HERALD_DELIVERY_URL=" + stack.DeliveryURL,
		"HERALD_MOTO_URL=" + stack.MotoURL,
		"HERALD_RECEIVER_URL=" + rcv.URL,
	}, "\n") + "\n"
	if err := os.WriteFile(envPath, []byte(env), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", envPath, err)
	}
	rel, _ := filepath.Rel(root, envPath)
	fmt.Fprintf(stdout, `
Herald's local stack is up.

  API      %s   (project %q, token in %s)
  admin    %s/admin   (sign in with that token)
  ingest   %s
  delivery %s
  moto     %s   (DynamoDB and SQS; its log is in .herald/moto.log)
  receiver %s   (webhook %q sends it every event of the project and it prints each call)

Try it:

  set -a; . %s; set +a
  curl -H "Authorization: Bearer $HERALD_TOKEN" "$HERALD_API_URL/webhooks"
  curl -d @events/ingest/<event>.json "$HERALD_INGEST_URL"
  make invoke FN=IngestFunction EVENT=events/ingest/item-update.json
  curl -H "Authorization: Bearer $HERALD_TOKEN" "$HERALD_API_URL/webhook_calls"
  make invoke FN=ApiFunction EVENT=events/api/<event>.json   (their token is seeded too)

The delivery queue is polled as Lambda would, and the sweep runs every %s.
Webhooks are disabled after every attempt failed for %s.
Ctrl-C stops everything.
`, stack.APIURL, demoProject, rel, stack.APIURL, stack.IngestURL, stack.DeliveryURL, stack.MotoURL, rcv.URL, demoWebhookID, rel, *sweep,
		autoDisableText(stack.Functions[localstack.DeliveryFunction].Env["AUTO_DISABLE_AFTER_HOURS"]))

	<-ctx.Done()
	fmt.Fprintln(stderr, "\nherald-dev: stopping…")
	stack.Stop()
	if err := os.Remove(envPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", envPath, err)
	}
	return nil
}

// seedDemo starts the demo receiver on 127.0.0.1:port (0 picks one), which
// checks each call's signature with the demo webhook's secret (a rotation
// through the API is not seen) and prints one line per call to out; then it
// seeds the demo project: a new token (stack.SeedProject), which it
// returns, the sample events' token, and the demo webhook.
func seedDemo(ctx context.Context, stack *localstack.Stack, port int, out io.Writer) (string, *harness.Receiver, error) {
	store, err := stack.Store()
	if err != nil {
		return "", nil, err
	}
	rcv, err := harness.StartReceiver(harness.ReceiverOptions{Addr: "127.0.0.1:" + strconv.Itoa(port), Print: out})
	if err != nil {
		return "", nil, err
	}
	var triggers []herald.Trigger
	for _, entity := range herald.EntityTypes() {
		triggers = append(triggers, herald.Trigger{EntityType: entity, EventTypes: herald.EventTypes(entity)})
	}
	token, err := stack.SeedProject(ctx, demoProject)
	var hooks []*herald.Webhook
	if err == nil {
		hooks, err = store.Seed(ctx, demoProject, sampleToken, "sample events", dynamo.SeedWebhook{
			ID: demoWebhookID, Name: "Demo receiver", URL: rcv.URL + "/hooks/{{entity_type}}/{{entity.id}}",
			Events: triggers, Headers: map[string]string{"X-Herald-Demo": "1"},
		})
	}
	if err != nil {
		_ = rcv.Close()
		return "", nil, err
	}
	rcv.Sign("/hooks/", hooks[0].Secret.Current)
	return token, rcv, nil
}

// portFree fails, helpfully, if something already listens on the port.
func portFree(port int) error {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return fmt.Errorf("127.0.0.1:%d is in use: is `make dev` already running in another terminal? (%w)", port, err)
	}
	return l.Close()
}

// functionLogs passes the functions' lines on, leaving out the emulator's
// own INFO chatter unless asked for it.
type functionLogs struct {
	out     io.Writer
	verbose bool
	mu      sync.Mutex
}

func (l *functionLogs) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\r\n")
		if !l.verbose && strings.Contains(line, "[INFO] (rapid)") {
			continue
		}
		// A metrics line (EMF) is shown as what CloudWatch would read
		// from it, unless -v asks for the raw JSON.
		if m, ok := metrics.Parse(line); ok && !l.verbose {
			prefix, _, _ := strings.Cut(line, "{")
			fmt.Fprintf(l.out, "%smetrics: %s\n", prefix, m)
			continue
		}
		fmt.Fprintln(l.out, line)
	}
	return len(b), nil
}

// autoDisableOverride sets the functions' auto-disable window, given as a
// duration, in the hours they read (AUTO_DISABLE_AFTER_HOURS takes a
// fraction); 0 leaves the template's.
func autoDisableOverride(d time.Duration) (map[string]map[string]string, error) {
	switch {
	case d == 0:
		return nil, nil
	case d < time.Second:
		return nil, fmt.Errorf("-auto-disable-after must be at least 1s, not %v", d)
	}
	hours := strconv.FormatFloat(d.Hours(), 'f', -1, 64)
	return map[string]map[string]string{"Parameters": {"AUTO_DISABLE_AFTER_HOURS": hours}}, nil
}

// autoDisableText says the window the functions run with.
func autoDisableText(hours string) string {
	h, err := strconv.ParseFloat(hours, 64)
	switch {
	case err != nil:
		return hours + " hours"
	case h == 0:
		return "ever (never disabled)"
	}
	return time.Duration(h * float64(time.Hour)).Round(time.Second).String()
}
