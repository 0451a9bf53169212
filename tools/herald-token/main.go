// Command herald-token creates, lists and revokes API tokens. A token is
// printed once, when it is created; the table keeps only its SHA-256 hash,
// and lists show a token by its id (the hash's first 12 hex digits).
//
//	herald-token [create] -project P [-label L]   create a token; prints it once
//	herald-token list [-project P]                 every token (of a project): id, project, label, created
//	herald-token revoke -id ID                     revoke a token by its id
//
// Each works on the local stack (`make dev`) by default; -stack NAME works
// on a deployed stack's table (its TableName output) with the usual AWS
// credentials and region, -table NAME on a table by name.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/heraldhq/herald/shared/config"
	"github.com/heraldhq/herald/shared/dynamo"
	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/httpapi"
	"github.com/heraldhq/herald/tools/command"
	"github.com/heraldhq/herald/tools/deploy"
	"github.com/heraldhq/herald/tools/localstack"
)

func main() {
	command.Main("herald-token", func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return run(ctx, args, stdout, stderr, localstack.Options{})
	})
}

// run runs one subcommand; without one (arguments start with a flag), it
// creates a token, as the command always did. local says where the local
// stack is when no -stack is given; its zero value reads events/env.json.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, local localstack.Options) error {
	cmd := "create"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("herald-token "+cmd, flag.ContinueOnError)
	stack := fs.String("stack", "", "CloudFormation stack to find the table in (TableName output); without it, the local stack")
	table := fs.String("table", "", "table name, instead of looking it up")
	var project, label, id *string
	switch cmd {
	case "create":
		project = fs.String("project", "", "project the token gives access to (required)")
		label = fs.String("label", "", "what the token is for, stored beside its hash")
	case "list":
		project = fs.String("project", "", "list only this project's tokens")
	case "revoke":
		id = fs.String("id", "", "the token's id, as list shows it (required)")
	default:
		fmt.Fprintf(stderr, "herald-token: unknown command %q; want create, list or revoke\n", cmd)
		return flag.ErrHelp
	}
	if err := command.Parse(fs, args, stderr, func() bool { return (cmd != "create" || *project != "") && (cmd != "revoke" || *id != "") }); err != nil {
		return err
	}
	if project != nil && *project != "" {
		if p := herald.ProjectIDProblem(*project); p != "" {
			return fmt.Errorf("project id %q %s", *project, p)
		}
	}

	store, where, err := target(ctx, *stack, *table, local)
	if err != nil {
		return err
	}
	switch cmd {
	case "create":
		token := herald.NewToken()
		if err := store.PutToken(ctx, herald.HashToken(token), *project, *label); err != nil {
			return fmt.Errorf("store the token in %s: %w", where, err)
		}
		fmt.Fprintf(stderr, "Token %s for project %q stored (as a hash) in %s. It is shown only this once:\n",
			herald.TokenID(herald.HashToken(token)), *project, where)
		fmt.Fprintln(stdout, token)
	case "list":
		tokens, err := store.ListTokens(ctx, *project)
		if err != nil {
			return fmt.Errorf("list the tokens in %s: %w", where, err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPROJECT\tCREATED\tLABEL")
		for _, t := range tokens {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Project, t.CreatedAt.Format(herald.TimeFormat), t.Label)
		}
		_ = tw.Flush() // writes to stdout; nothing to do if that fails
	case "revoke":
		t, err := store.RevokeToken(ctx, *id)
		if err != nil {
			return fmt.Errorf("revoke token %s in %s: %w", *id, where, err)
		}
		label := "no label"
		if t.Label != "" {
			label = "label " + t.Label
		}
		fmt.Fprintf(stdout, "Revoked token %s of project %q (%s), created %s.\n", t.ID, t.Project, label, t.CreatedAt.Format(herald.TimeFormat))
		fmt.Fprintf(stderr, "API functions already running may accept it for up to %s more (their token cache).\n", httpapi.TokenCacheTTL)
	}
	return nil
}

// target is the store to work on and what to call its table: the local
// stack's (events/env.json says where), or a deployed stack's.
func target(ctx context.Context, stack, table string, local localstack.Options) (*dynamo.Store, string, error) {
	if stack == "" {
		db, name, err := localstack.LocalTable(local)
		if errors.Is(err, localstack.ErrNotRunning) {
			err = fmt.Errorf("%w: start it with `make dev`, or give -stack for a deployed stack", err)
		}
		if err != nil {
			return nil, "", err
		}
		name = cmp.Or(table, name)
		return dynamo.New(dynamo.Deps{DB: db, Table: name}), "the local stack's table " + name, nil
	}
	cfg, err := config.AWS(ctx)
	if err != nil {
		return nil, "", err
	}
	if table == "" {
		outputs, err := deploy.StackOutputs(ctx, cloudformation.NewFromConfig(cfg), stack, "TableName")
		if err != nil {
			return nil, "", err
		}
		table = outputs["TableName"]
	}
	return dynamo.New(dynamo.Deps{DB: dynamodb.NewFromConfig(cfg), Table: table}), fmt.Sprintf("table %s (stack %s, %s)", table, stack, cfg.Region), nil
}
