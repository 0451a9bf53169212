package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/tools/localstack"
)

func TestTokenForLocalStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stack, err := localstack.Start(ctx, localstack.Options{Functions: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Stop()

	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{"-project", "p1", "-label", "ci"}, &stdout, &stderr, localstack.Options{MotoURL: stack.MotoURL})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	token := strings.TrimSpace(stdout.String())
	if !herald.WellFormedToken(token) {
		t.Fatalf("stdout: got %q, want just the token", stdout.String())
	}
	if strings.Contains(stderr.String(), token) {
		t.Error("the token was also written to stderr")
	}
	store := dynamo.New(stack.DynamoDB(), "herald-local", herald.SystemClock{})
	if project, err := store.ProjectForToken(ctx, herald.HashToken(token)); err != nil || project != "p1" {
		t.Errorf("project for the token: got %q %v, want p1", project, err)
	}
}

func TestTokenErrors(t *testing.T) {
	ctx := context.Background()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"-project", "p"}, &stdout, &stderr, localstack.Options{MotoURL: "http://127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "make dev") {
		t.Errorf("no local stack: got %v, want an error pointing at make dev", err)
	}
	if err = run(ctx, nil, &stdout, &stderr, localstack.Options{}); err == nil {
		t.Error("no -project: got no error")
	}
	// '#' separates a key's parts; such a project id is refused before
	// anything is stored (issue 10, defect 1).
	err = run(ctx, []string{"-project", "205#7"}, &stdout, &stderr, localstack.Options{MotoURL: "http://127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "#") {
		t.Errorf(`-project "205#7": got %v, want it refused for its '#'`, err)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout: got %q, want nothing", stdout.String())
	}
}
