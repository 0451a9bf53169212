// Command herald-coldstart reports what a cold start costs each function:
// the size of its bootstrap (the arm64 build Lambda runs and the host build
// the emulator runs) and the Runtime Interface Emulator's Init Duration,
// over several cold starts under the local stack. `make coldstart` runs it.
//
// Each round starts one fresh emulator instance per function, invokes it
// once with a sample from events/ (the first invocation is when Lambda and
// the emulator initialise the function) and stops it. One moto serves every
// round.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/heraldhq/herald/tools/command"
	"github.com/heraldhq/herald/tools/localstack"
)

// sample is the event each function is first invoked with.
var sample = map[string]string{
	localstack.APIFunction:      "events/api/webhooks-list.json",
	localstack.IngestFunction:   "events/ingest/item-update.json",
	localstack.DeliveryFunction: "events/delivery/sweep.json",
}

func main() { command.Main("herald-coldstart", run) }

func run(ctx context.Context, args []string, out, stderr io.Writer) error {
	fs := flag.NewFlagSet("herald-coldstart", flag.ContinueOnError)
	rounds := fs.Int("rounds", 5, "cold starts per function (1 or more)")
	armDir := fs.String("arm64", ".build/arm64", "where `make build` put the arm64 bootstraps")
	if err := command.Parse(fs, args, stderr, func() bool { return *rounds > 0 }); err != nil {
		return err
	}
	root, err := localstack.RepoRoot()
	if err != nil {
		return err
	}
	hostDir, err := localstack.HostBuildDir()
	if err != nil {
		return err
	}
	functions := []string{localstack.APIFunction, localstack.IngestFunction, localstack.DeliveryFunction}
	payloads, sizes := map[string][]byte{}, map[string]int{}
	for _, fn := range functions {
		sizes[fn] = 1
		// #nosec G304 -- reads the repository's own sample events, named in this file
		if payloads[fn], err = os.ReadFile(filepath.Join(root, sample[fn])); err != nil {
			return err
		}
	}

	moto, err := localstack.StartMoto(ctx, 0, nil)
	if err != nil {
		return err
	}
	defer moto.Stop()

	inits, firsts := map[string][]time.Duration{}, map[string][]time.Duration{}
	for round := range *rounds {
		st, err := localstack.Start(ctx, localstack.Options{Root: root, HostBuild: hostDir, MotoURL: moto.URL, PoolSizes: sizes, Functions: functions})
		if err != nil {
			return fmt.Errorf("round %d: %w", round+1, err)
		}
		for _, fn := range functions {
			start := time.Now()
			_, err := st.Pool(fn).Invoke(ctx, payloads[fn])
			firsts[fn] = append(firsts[fn], time.Since(start))
			inst := st.Pool(fn).Instances()[0]
			d, ok := inst.InitDuration()
			if err == nil && !ok {
				err = fmt.Errorf("reported no Init Duration:\n%s", inst.Logs())
			}
			if err != nil {
				st.Stop()
				return fmt.Errorf("round %d: %s: %w", round+1, fn, err)
			}
			inits[fn] = append(inits[fn], d)
		}
		st.Stop()
	}

	fmt.Fprintf(out, "# Herald: cold start\n\n%d cold starts per function under the Runtime Interface Emulator, host build (%s/%s, %s); Init Duration as the emulator reports it.\n\n",
		*rounds, runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(out, "| function | arm64 bootstrap | host bootstrap | Init Duration median | Init Duration max | first invoke median (wall) |\n|---|---:|---:|---:|---:|---:|\n")
	for _, fn := range functions {
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %s |\n", fn,
			fileSize(filepath.Join(root, *armDir, fn, "bootstrap")), fileSize(filepath.Join(hostDir, fn, "bootstrap")),
			msOf(median(inits[fn])), msOf(slices.Max(inits[fn])), msOf(median(firsts[fn])))
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func msOf(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func fileSize(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "not built"
	}
	return fmt.Sprintf("%.2f MB (%.1f MiB)", float64(fi.Size())/1e6, float64(fi.Size())/(1<<20))
}
