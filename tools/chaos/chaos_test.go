package chaos

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/test/testenv"
	"github.com/heraldhq/herald/tools/harness"
)

// TestChaosShort is the short chaos run `make test` runs: 200 events × 3
// webhooks through the whole local stack while invocations are killed, moto
// answers through the fault proxy and receivers fail. The ledger must
// balance, and the run must really have injected each kind of fault. About
// 2 minutes; `make chaos` is the full run.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos run takes minutes")
	}
	cfg := ShortConfig()
	cfg.HostBuild = testenv.Bootstraps(t)
	cfg.Progress = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	// Scanned for secrets when the test ends, as every stack test's logs are.
	cfg.Logs = testenv.LogWriter(t, "functions")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	res.Print(&out)
	t.Log("\n" + out.String())
	l := res.Ledger
	if !l.Balanced {
		t.Fatalf("the ledger does not balance: %d problems", len(l.Problems))
	}
	if res.DeliveryKills == 0 || res.IngestKills == 0 {
		t.Errorf("kills: %d delivery, %d ingest; want some of each", res.DeliveryKills, res.IngestKills)
	}
	faults := summarize(res.Faults)
	for _, kind := range []string{"throttle", "internal", "ambiguous", "slow"} {
		if faults[kind] == 0 {
			t.Errorf("no %s AWS fault was injected", kind)
		}
	}
	for _, a := range []string{harness.AnsweredOK, harness.AnsweredFail, harness.AnsweredTimeout, harness.AnsweredReset} {
		if l.Answers[a] == 0 {
			t.Errorf("the receiver never answered %s", a)
		}
	}
	if l.Expected <= cfg.Events {
		t.Errorf("%d calls expected for %d events; the webhooks should match more", l.Expected, cfg.Events)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
