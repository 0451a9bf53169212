package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/heraldhq/herald/shared/herald"
)

// Client is the part of the DynamoDB API the store uses.
type Client interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

var _ Client = (*dynamodb.Client)(nil)

// Store is Herald's table.
type Store struct {
	db        Client
	table     string
	clock     herald.Clock
	retention time.Duration
}

// Deps are a Store's client and settings, all given at construction.
type Deps struct {
	DB    Client
	Table string
	Clock herald.Clock // herald.SystemClock if nil
	// Retention is how long calls live (CALL_RETENTION_DAYS), so that
	// hours whose calls have expired are neither counted nor kept;
	// DefaultRetention if 0.
	Retention time.Duration
}

// New returns a store over the named table.
func New(d Deps) *Store {
	s := &Store{db: d.DB, table: d.Table, clock: d.Clock, retention: d.Retention}
	if s.clock == nil {
		s.clock = herald.SystemClock{}
	}
	if s.retention == 0 {
		s.retention = DefaultRetention
	}
	return s
}

// isConditionFailed reports whether err is a failed condition on a single
// write.
func isConditionFailed(err error) bool {
	_, refused := refusedItem(err)
	return refused
}

// refusedItem reports whether err is a refused condition and returns the
// item the condition was checked against, for a write that asked for it
// (ReturnValuesOnConditionCheckFailure ALL_OLD); nil if there was none.
func refusedItem(err error) (map[string]types.AttributeValue, bool) {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return nil, false
	}
	return ccf.Item, true
}

// cancelReasons returns the per-item reason codes of a cancelled transaction,
// or nil if err is not one.
func cancelReasons(err error) []string {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil
	}
	codes := make([]string, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		if r.Code != nil {
			codes[i] = *r.Code
		}
	}
	return codes
}

// classify turns DynamoDB's throttling into herald.ETHROTTLED, so that the
// API answers 429 with transient: true; everything else stays internal.
func classify(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "ProvisionedThroughputExceededException", "RequestLimitExceeded", "ThrottlingException":
			return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...),
				errors.Join(herald.Errorf(herald.ETHROTTLED, "the service is busy; try again shortly"), err))
		}
	}
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
}

// queryPages reads every page of a query and hands each to page; a read that
// fails is classified with format and args, what page returns is returned
// as it is.
func (s *Store) queryPages(ctx context.Context, in *dynamodb.QueryInput, page func(*dynamodb.QueryOutput) error, format string, args ...any) error {
	p := dynamodb.NewQueryPaginator(s.db, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return classify(err, format, args...)
		}
		if err := page(out); err != nil {
			return err
		}
	}
	return nil
}
