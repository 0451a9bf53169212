package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/shared/herald"
)

// webhookItem is a webhook as stored. Triggers are kept as one JSON string:
// they are always read and written whole, and JSON keeps them compact.
type webhookItem struct {
	PK                   string            `dynamodbav:"PK"`
	SK                   string            `dynamodbav:"SK"`
	Type                 string            `dynamodbav:"type"`
	ID                   string            `dynamodbav:"id"`
	Project              string            `dynamodbav:"project"`
	Name                 string            `dynamodbav:"name"`
	URL                  string            `dynamodbav:"url"`
	CustomPayload        *string           `dynamodbav:"custom_payload"`
	Headers              map[string]string `dynamodbav:"headers"`
	Events               string            `dynamodbav:"events"`
	HTTPBasicUser        *string           `dynamodbav:"http_basic_user"`
	HTTPBasicPassword    *string           `dynamodbav:"http_basic_password"`
	Enabled              bool              `dynamodbav:"enabled"`
	PayloadAPIVersion    string            `dynamodbav:"payload_api_version"`
	NestedItemsInPayload bool              `dynamodbav:"nested_items_in_payload"`
	AutoRetry            bool              `dynamodbav:"auto_retry"`
	Secret               string            `dynamodbav:"secret"`
	PreviousSecret       string            `dynamodbav:"previous_secret,omitempty"`
	PreviousSecretUntil  string            `dynamodbav:"previous_secret_until,omitempty"`
	CreatedAt            string            `dynamodbav:"created_at"`
	UpdatedAt            string            `dynamodbav:"updated_at"`
	Version              int64             `dynamodbav:"version"`
	// Health (health.go): why and since when it is disabled, and when its
	// open incident began (epoch ms), which delivery reads with the webhook.
	DisabledReason string `dynamodbav:"disabled_reason,omitempty"`
	DisabledAt     string `dynamodbav:"disabled_at,omitempty"`
	Incident       int64  `dynamodbav:"incident,omitempty"`
}

// Attribute names of the webhook item that delivery writes itself
// (health.go); the rest is written whole, by the API.
const (
	attrWebhookEnabled        = "enabled"
	attrWebhookVersion        = "version"
	attrWebhookDisabledReason = "disabled_reason"
	attrWebhookDisabledAt     = "disabled_at"
	attrWebhookIncident       = "incident"
)

type nameItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Type      string `dynamodbav:"type"`
	WebhookID string `dynamodbav:"webhook_id"`
}

const timeFormat = time.RFC3339Nano

func toWebhookItem(w *herald.Webhook) (map[string]types.AttributeValue, error) {
	events, err := json.Marshal(w.Events)
	if err != nil {
		return nil, fmt.Errorf("encode triggers of webhook %s: %w", w.ID, err)
	}
	it := webhookItem{
		PK: projectKey(w.ProjectID), SK: webhookSK(w.ID), Type: "webhook",
		ID: w.ID, Project: w.ProjectID, Name: w.Name, URL: w.URL,
		CustomPayload: w.CustomPayload, Headers: w.Headers, Events: string(events),
		HTTPBasicUser: w.HTTPBasicUser, HTTPBasicPassword: w.HTTPBasicPassword,
		Enabled: w.Enabled, PayloadAPIVersion: w.PayloadAPIVersion,
		NestedItemsInPayload: w.NestedItemsInPayload, AutoRetry: w.AutoRetry,
		Secret: w.Secret.Current, PreviousSecret: w.Secret.Previous,
		CreatedAt: w.CreatedAt.Format(timeFormat), UpdatedAt: w.UpdatedAt.Format(timeFormat),
		Version: w.Version,
	}
	if w.Secret.Previous != "" {
		it.PreviousSecretUntil = w.Secret.PreviousExpiresAt.Format(timeFormat)
	}
	it.DisabledReason = w.DisabledReason
	if w.DisabledAt != nil {
		it.DisabledAt = w.DisabledAt.UTC().Format(timeFormat)
	}
	if !w.Incident.IsZero() {
		it.Incident = w.Incident.UnixMilli()
	}
	if it.Headers == nil {
		it.Headers = map[string]string{}
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return nil, fmt.Errorf("marshal webhook %s: %w", w.ID, err)
	}
	return item, nil
}

func fromWebhookItem(item map[string]types.AttributeValue) (*herald.Webhook, error) {
	var it webhookItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return nil, fmt.Errorf("unmarshal webhook: %w", err)
	}
	w := &herald.Webhook{
		ID: it.ID, ProjectID: it.Project, Name: it.Name, URL: it.URL,
		CustomPayload: it.CustomPayload, Headers: it.Headers,
		HTTPBasicUser: it.HTTPBasicUser, HTTPBasicPassword: it.HTTPBasicPassword,
		Enabled: it.Enabled, PayloadAPIVersion: it.PayloadAPIVersion,
		NestedItemsInPayload: it.NestedItemsInPayload, AutoRetry: it.AutoRetry,
		Secret:  herald.Secret{Current: it.Secret, Previous: it.PreviousSecret},
		Version: it.Version, DisabledReason: it.DisabledReason,
	}
	if it.Incident != 0 {
		w.Incident = time.UnixMilli(it.Incident).UTC()
	}
	if w.Headers == nil {
		w.Headers = map[string]string{}
	}
	if err := json.Unmarshal([]byte(it.Events), &w.Events); err != nil {
		return nil, fmt.Errorf("decode triggers of webhook %s: %w", it.ID, err)
	}
	var err error
	if w.CreatedAt, err = time.Parse(timeFormat, it.CreatedAt); err != nil {
		return nil, fmt.Errorf("webhook %s created_at: %w", it.ID, err)
	}
	if w.UpdatedAt, err = time.Parse(timeFormat, it.UpdatedAt); err != nil {
		return nil, fmt.Errorf("webhook %s updated_at: %w", it.ID, err)
	}
	if it.PreviousSecretUntil != "" {
		if w.Secret.PreviousExpiresAt, err = time.Parse(timeFormat, it.PreviousSecretUntil); err != nil {
			return nil, fmt.Errorf("webhook %s previous_secret_until: %w", it.ID, err)
		}
	}
	if it.DisabledAt != "" {
		at, err := time.Parse(timeFormat, it.DisabledAt)
		if err != nil {
			return nil, fmt.Errorf("webhook %s disabled_at: %w", it.ID, err)
		}
		w.DisabledAt = &at
	}
	return w, nil
}

// ListWebhooks returns a project's webhooks, oldest first (ids are ULIDs).
// One strongly consistent Query, paged past 1 MB.
func (s *Store) ListWebhooks(ctx context.Context, project string) ([]*herald.Webhook, error) {
	if err := checkProject(project); err != nil {
		return nil, err
	}
	var out []*herald.Webhook
	err := s.queryPages(ctx, s.projectQuery(project, webhookPrefix), func(page *dynamodb.QueryOutput) error {
		for _, item := range page.Items {
			w, err := fromWebhookItem(item)
			if err != nil {
				return err
			}
			if w.ProjectID == project { // else not this project's, whatever its key says
				out = append(out, w)
			}
		}
		return nil
	}, "query webhooks of project %s", project)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetWebhook returns one webhook of a project, or ENOTFOUND.
func (s *Store) GetWebhook(ctx context.Context, project, id string) (*herald.Webhook, error) {
	if err := lookup(project, id, "webhook"); err != nil {
		return nil, err
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(projectKey(project), webhookSK(id)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, classify(err, "get webhook %s", id)
	}
	if out.Item == nil {
		return nil, herald.Errorf(herald.ENOTFOUND, "webhook %s not found", id)
	}
	w, err := fromWebhookItem(out.Item)
	if err != nil {
		return nil, err
	}
	if !owns(w.ProjectID, w.ID, project, id) {
		return nil, herald.Errorf(herald.ENOTFOUND, "webhook %s not found", id)
	}
	return w, nil
}

// CreateWebhook stores a new webhook and claims its name, in one transaction:
// a taken name is a VALIDATION_UNIQUENESS problem on "name".
func (s *Store) CreateWebhook(ctx context.Context, w *herald.Webhook) error {
	if err := checkProject(w.ProjectID); err != nil {
		return err
	}
	if !herald.IsID(w.ID) {
		return herald.Errorf(herald.EINVALID, "webhook id %q is not a ULID", truncateID(w.ID))
	}
	w.Version = 1
	item, err := toWebhookItem(w)
	if err != nil {
		return err
	}
	name, err := s.nameClaim(w)
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		// The token makes DynamoDB answer an SDK retry of this very
		// transaction with success for ten minutes.
		ClientRequestToken: aws.String(w.ID),
		TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(s.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
			{Put: &types.Put{TableName: aws.String(s.table), Item: name, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		},
	})
	if reasons := cancelReasons(err); len(reasons) == 2 && reasons[1] == "ConditionalCheckFailed" {
		if reasons[0] == "ConditionalCheckFailed" && s.alreadyCreated(ctx, w) {
			return nil
		}
		return nameTaken(w.Name)
	}
	return classify(err, "create webhook %s", w.ID)
}

// alreadyCreated tells whether w, with its fresh id and its name, is
// already stored: an earlier attempt of the same create succeeded and its
// answer was lost (a retry where the token is not honoured, as in moto).
func (s *Store) alreadyCreated(ctx context.Context, w *herald.Webhook) bool {
	got, err := s.GetWebhook(ctx, w.ProjectID, w.ID)
	return err == nil && nameSK(got.Name) == nameSK(w.Name)
}

// UpdateWebhook replaces old with updated, on the condition that nobody wrote
// old since it was read: otherwise ECONFLICT, and the caller re-reads and
// re-applies its change. A rename moves the name claim in the same
// transaction; re-enabling a webhook ends its failure streak in the same
// transaction (health.go), so that auto-disable never acts on a streak from
// before.
func (s *Store) UpdateWebhook(ctx context.Context, old, updated *herald.Webhook) error {
	updated.Version = old.Version + 1
	item, err := toWebhookItem(updated)
	if err != nil {
		return err
	}
	put := &types.Put{
		TableName:                 aws.String(s.table),
		Item:                      item,
		ConditionExpression:       aws.String("version = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": number(old.Version)},
	}
	var also []types.TransactWriteItem
	if updated.ReEnables(old) {
		also = append(also, types.TransactWriteItem{Update: s.endStreak(updated.ProjectID, updated.ID)})
	}
	if nameSK(old.Name) == nameSK(updated.Name) && len(also) > 0 {
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: append([]types.TransactWriteItem{{Put: put}}, also...),
		})
		if reasons := cancelReasons(err); len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
			return s.updateConflict(ctx, old, item)
		}
		return classify(err, "update webhook %s", old.ID)
	}
	if nameSK(old.Name) == nameSK(updated.Name) {
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: put.TableName, Item: put.Item,
			ConditionExpression: put.ConditionExpression, ExpressionAttributeValues: put.ExpressionAttributeValues,
		})
		if isConditionFailed(err) {
			return s.updateConflict(ctx, old, item)
		}
		return classify(err, "update webhook %s", old.ID)
	}
	name, err := s.nameClaim(updated)
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: append([]types.TransactWriteItem{
			{Put: put},
			{Delete: &types.Delete{TableName: aws.String(s.table), Key: key(projectKey(old.ProjectID), nameSK(old.Name))}},
			{Put: &types.Put{TableName: aws.String(s.table), Item: name, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		}, also...),
	})
	switch reasons := cancelReasons(err); {
	case len(reasons) >= 3 && reasons[0] == "ConditionalCheckFailed":
		return s.updateConflict(ctx, old, item)
	case len(reasons) >= 3 && reasons[2] == "ConditionalCheckFailed":
		return nameTaken(updated.Name)
	}
	return classify(err, "update webhook %s", old.ID)
}

// updateConflict is the answer to an update whose version condition
// failed: nil when the stored webhook is, to the letter, the one the update
// wrote (an earlier try of the same request succeeded and its answer was
// lost), ECONFLICT otherwise.
func (s *Store) updateConflict(ctx context.Context, old *herald.Webhook, wrote map[string]types.AttributeValue) error {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(projectKey(old.ProjectID), webhookSK(old.ID)), ConsistentRead: aws.Bool(true),
	})
	if err == nil && reflect.DeepEqual(out.Item, wrote) {
		return nil
	}
	return herald.Errorf(herald.ECONFLICT, "webhook %s changed while it was being updated", old.ID)
}

// DeleteWebhook deletes a webhook, frees its name and deletes its health,
// if it is still as read; a webhook already gone counts as deleted.
func (s *Store) DeleteWebhook(ctx context.Context, w *herald.Webhook) error {
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{
			{Delete: &types.Delete{
				TableName:                 aws.String(s.table),
				Key:                       key(projectKey(w.ProjectID), webhookSK(w.ID)),
				ConditionExpression:       aws.String("version = :v"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":v": number(w.Version)},
			}},
			{Delete: &types.Delete{TableName: aws.String(s.table), Key: key(projectKey(w.ProjectID), nameSK(w.Name))}},
			{Delete: &types.Delete{TableName: aws.String(s.table), Key: key(projectKey(w.ProjectID), healthSK(w.ID))}},
		},
	})
	if reasons := cancelReasons(err); len(reasons) > 0 && reasons[0] == "ConditionalCheckFailed" {
		// Gone is what was asked for: an earlier try of this delete whose
		// answer was lost, or another delete of the same webhook.
		if _, err := s.GetWebhook(ctx, w.ProjectID, w.ID); herald.ErrorCode(err) == herald.ENOTFOUND {
			return nil
		}
		return herald.Errorf(herald.ECONFLICT, "webhook %s changed while it was being deleted", w.ID)
	}
	return classify(err, "delete webhook %s", w.ID)
}

func (s *Store) nameClaim(w *herald.Webhook) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(nameItem{
		PK: projectKey(w.ProjectID), SK: nameSK(w.Name), Type: "webhook_name", WebhookID: w.ID,
	})
	if err != nil {
		return nil, fmt.Errorf("marshal name of webhook %s: %w", w.ID, err)
	}
	return item, nil
}

func nameTaken(name string) error {
	return herald.Invalid([]herald.Problem{{
		Field: "name", Code: herald.ValidationUniqueness,
		Message: fmt.Sprintf("%q is already the name of another webhook of this project", name),
	}})
}

func number(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: fmt.Sprint(n)}
}
