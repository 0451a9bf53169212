// Command herald-token creates an API token for a project, stores its hash,
// and prints the token once: it cannot be shown again.
//
//	herald-token -project P [-label L]                  the local stack (`make dev`)
//	herald-token -project P -stack NAME [-label L]      a deployed stack: its TableName output, with the usual AWS credentials and region
//	herald-token -project P -table NAME                 that table (locally, or with -stack's credentials)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/tools/localstack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, localstack.Options{})
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "herald-token:", err)
		os.Exit(1)
	}
}

// run creates one token. local says where the local stack is when no -stack
// is given; its zero value reads events/env.json.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, local localstack.Options) error {
	fs := flag.NewFlagSet("herald-token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	project := fs.String("project", "", "project the token gives access to (required)")
	label := fs.String("label", "", "what the token is for, stored beside its hash")
	stack := fs.String("stack", "", "CloudFormation stack to find the table in (TableName output); without it, the local stack")
	table := fs.String("table", "", "table name, instead of looking it up")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *project == "" || fs.NArg() > 0 {
		fs.Usage()
		return flag.ErrHelp
	}
	if p := herald.ProjectIDProblem(*project); p != "" {
		return fmt.Errorf("project id %q %s", *project, p)
	}

	db, tableName, where, err := target(ctx, *stack, *table, local)
	if err != nil {
		return err
	}
	token := herald.NewToken()
	store := dynamo.New(db, tableName, herald.SystemClock{})
	if err := store.PutToken(ctx, herald.HashToken(token), *project, *label); err != nil {
		return fmt.Errorf("store the token in %s: %w", where, err)
	}
	fmt.Fprintf(stderr, "Token for project %q stored (as a hash) in %s. It is shown only this once:\n", *project, where)
	fmt.Fprintln(stdout, token)
	return nil
}

// target is the table to write to and a client for it: the local stack's
// (events/env.json says where), or a deployed stack's.
func target(ctx context.Context, stack, table string, local localstack.Options) (*dynamodb.Client, string, string, error) {
	if stack == "" {
		db, name, err := localstack.LocalTable(local)
		if errors.Is(err, localstack.ErrNotRunning) {
			return nil, "", "", fmt.Errorf("%w: start it with `make dev`, or give -stack for a deployed stack", err)
		}
		if err != nil {
			return nil, "", "", err
		}
		if table != "" {
			name = table
		}
		return db, name, "the local stack's table " + name, nil
	}
	cfg, err := config.AWS(ctx)
	if err != nil {
		return nil, "", "", err
	}
	if table == "" {
		if table, err = stackOutput(ctx, cloudformation.NewFromConfig(cfg), stack, "TableName"); err != nil {
			return nil, "", "", err
		}
	}
	return dynamodb.NewFromConfig(cfg), table, fmt.Sprintf("table %s (stack %s, %s)", table, stack, cfg.Region), nil
}

// stackOutput reads one output of a CloudFormation stack.
func stackOutput(ctx context.Context, cf *cloudformation.Client, stack, key string) (string, error) {
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		return "", fmt.Errorf("describe stack %s: %w", stack, err)
	}
	for _, s := range out.Stacks {
		for _, o := range s.Outputs {
			if aws.ToString(o.OutputKey) == key {
				return aws.ToString(o.OutputValue), nil
			}
		}
	}
	return "", fmt.Errorf("stack %s has no %s output", stack, key)
}
