package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/signing"
	"github.com/heraldhq/herald/tools/localstack"
)

// The demo webhook, seeded by `make dev`, sends every event of the demo
// project, operational events included, to the demo receiver, which prints
// what it gets. Its id is fixed so the sample API events
// (events/api/webhooks-*.json) find it, and is a ULID, as the store
// requires of every webhook id.
const (
	demoWebhookID = "01JDEM0WEBH00K0000000000Z0"
	receiverPort  = 3001
)

// seedDemoWebhook creates the demo webhook and returns its signing secret.
func seedDemoWebhook(ctx context.Context, stack *localstack.Stack) (string, error) {
	table, err := stack.TableName()
	if err != nil {
		return "", err
	}
	var triggers []herald.Trigger
	for _, entity := range herald.EntityTypes() {
		triggers = append(triggers, herald.Trigger{EntityType: entity, EventTypes: herald.EventTypes(entity)})
	}
	now := time.Now().UTC()
	hook, err := herald.NewWebhook(demoProject, demoWebhookID, herald.WebhookInput{
		Name:              herald.Some("Demo receiver"),
		URL:               herald.Some("http://127.0.0.1:" + strconv.Itoa(receiverPort) + "/hooks/{{entity_type}}/{{entity.id}}"),
		CustomPayload:     herald.Some[*string](nil),
		Headers:           herald.Some(map[string]string{"X-Herald-Demo": "1"}),
		Events:            herald.Some(triggers),
		HTTPBasicUser:     herald.Some[*string](nil),
		HTTPBasicPassword: herald.Some[*string](nil),
	}, now)
	if err != nil {
		return "", err
	}
	hook.Secret.Current = signing.NewSecret()
	if err := dynamo.New(stack.DynamoDB(), table, herald.SystemClock{}).CreateWebhook(ctx, hook); err != nil {
		return "", fmt.Errorf("seed the demo webhook: %w", err)
	}
	return hook.Secret.Current, nil
}

// startReceiver serves the demo receiver on 127.0.0.1 until ctx ends. It
// checks each call's signature with the demo webhook's secret (a rotation
// through the API is not seen) and prints one line per call.
func startReceiver(ctx context.Context, secret string, out io.Writer) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(receiverPort))
	if err != nil {
		return "", fmt.Errorf("start the demo receiver: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		signature := "valid"
		if err := signing.Verify(secret, r.Header.Get(signing.HeaderID), r.Header.Get(signing.HeaderTimestamp),
			r.Header.Get(signing.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
			signature = "INVALID (" + err.Error() + ")"
		}
		fmt.Fprintf(out, "receiver: %s %s %s webhook-id=%s signature %s, %d bytes\n",
			r.Method, r.URL.Path, eventOf(body), r.Header.Get(signing.HeaderID), signature, len(body))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"received":true}`))
	})}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(out, "receiver:", err)
		}
	}()
	go func() { // #nosec G118 -- ctx is done by then; the shutdown needs a context of its own
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	return "http://" + l.Addr().String(), nil
}

// eventOf names the event a default payload carries ("item.update",
// "webhook.failing"), so that operational events stand out; "" for a body
// that is not one.
func eventOf(body []byte) string {
	var p struct {
		EntityType string `json:"entity_type"`
		EventType  string `json:"event_type"`
	}
	if json.Unmarshal(body, &p) != nil || p.EntityType == "" {
		return ""
	}
	return p.EntityType + "." + p.EventType
}
