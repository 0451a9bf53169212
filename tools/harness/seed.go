package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
)

// Seed starts a run's project: a token (none if "") and one webhook per
// set of triggers, the i-th posting to <name><i>/ at the receiver, which
// checks its signatures. It returns the webhooks' ids and their paths, by
// id, for Run.Paths.
func Seed(ctx context.Context, store *dynamo.Store, project, token, name string, rcv *Receiver, triggers ...[]herald.Trigger) ([]string, map[string]string, error) {
	hooks := make([]dynamo.SeedWebhook, len(triggers))
	for i, t := range triggers {
		hooks[i] = dynamo.SeedWebhook{Name: fmt.Sprintf("%s%02d", name, i), URL: fmt.Sprintf("%s/%s%02d/", rcv.URL, name, i), Events: t}
	}
	seeded, err := store.Seed(ctx, project, token, "seeded by "+name, hooks...)
	if err != nil {
		return nil, nil, err
	}
	ids, paths := make([]string, len(seeded)), map[string]string{}
	for i, w := range seeded {
		ids[i], paths[w.ID] = w.ID, fmt.Sprintf("/%s%02d/", name, i)
		rcv.Sign(paths[w.ID], w.Secret.Current)
	}
	return ids, paths, nil
}

// Settle reads a project's calls until every request the receiver logged
// is recorded (a send is recorded after its answer, so the last ones may
// lag the receiver), at most for limit, and returns the last read.
func Settle(ctx context.Context, store *dynamo.Store, project string, rcv *Receiver, limit time.Duration) ([]*herald.Call, error) {
	deadline := time.Now().Add(limit)
	for {
		calls, err := store.ScanCalls(ctx, project)
		if err != nil || time.Now().After(deadline) {
			return calls, err
		}
		got := map[string]int{}
		for _, q := range rcv.Log() {
			got[q.CallID]++
		}
		recorded := 0
		for _, c := range calls {
			sends := 0
			for _, a := range c.Attempts {
				if _, sent := attemptAnswer(a); sent {
					sends++
				}
			}
			if sends >= got[c.ID] {
				recorded++
			}
		}
		if recorded == len(calls) {
			return calls, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
