package main

import (
	"context"
	"io"
	"strconv"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/tools/harness"
)

// The demo webhook, seeded by `make dev`, sends every event of the demo
// project, operational events included, to the demo receiver, which prints
// what it gets. Its id is fixed (a ULID, as every webhook id is) so the sample
// API events (events/api/webhooks-*.json) find it.
const (
	demoWebhookID = "01JDEM0WEBH00K0000000000Z0"
	receiverPort  = 3001
)

// seedDemo starts the demo receiver on 127.0.0.1:port (0 picks one), which
// checks each call's signature with the demo webhook's secret (a rotation
// through the API is not seen) and prints one line per call to out; then it
// seeds the demo project: a new token, which it returns, the sample events'
// token, and the demo webhook.
func seedDemo(ctx context.Context, store *dynamo.Store, port int, out io.Writer) (string, *harness.Receiver, error) {
	rcv, err := harness.StartReceiver(harness.ReceiverOptions{Addr: "127.0.0.1:" + strconv.Itoa(port), Print: out})
	if err != nil {
		return "", nil, err
	}
	token := herald.NewToken()
	var triggers []herald.Trigger
	for _, entity := range herald.EntityTypes() {
		triggers = append(triggers, herald.Trigger{EntityType: entity, EventTypes: herald.EventTypes(entity)})
	}
	_, err = store.Seed(ctx, demoProject, token, "local stack")
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
