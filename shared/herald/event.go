package herald

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Limits on an event from the CMS.
const (
	MaxEventBytes   = 256 << 10 // one event, as JSON
	MaxEventIDBytes = 128
	MaxBatchEvents  = 100
)

// Event is a change reported by the CMS (CONTRACT §2).
type Event struct {
	ProjectID            string          `json:"project_id"`
	EventID              string          `json:"event_id"`
	Environment          string          `json:"environment"`
	IsEnvironmentPrimary bool            `json:"is_environment_primary"`
	EntityType           string          `json:"entity_type"`
	EventType            string          `json:"event_type"`
	EventTriggeredAt     time.Time       `json:"event_triggered_at"`
	Entity               json.RawMessage `json:"entity"`
	PreviousEntity       json.RawMessage `json:"previous_entity,omitempty"`
	RelatedEntities      json.RawMessage `json:"related_entities,omitempty"`
}

// entityRef is the part of a JSON:API entity that matching reads.
type entityRef struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Attributes struct {
		APIKey string `json:"api_key"`
	} `json:"attributes"`
	Relationships struct {
		ItemType struct {
			Data *struct {
				ID string `json:"id"`
			} `json:"data"`
		} `json:"item_type"`
	} `json:"relationships"`
}

// Subject is what triggers match on, read once from an event.
type Subject struct {
	EntityType  string
	EventType   string
	EntityID    string
	ModelID     string // the record's model, or the model itself
	ModelAPIKey string // from related_entities or the model's attributes
	Environment string
	Primary     bool
}

// ParseEvent decodes and validates one event. Problems name the field; the
// ingest reply reports them per event.
func ParseEvent(raw []byte) (*Event, *Subject, error) {
	if len(raw) > MaxEventBytes {
		return nil, nil, Errorf(ETOOLARGE, "event is %d bytes; the limit is %d", len(raw), MaxEventBytes)
	}
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, nil, Errorf(EBADJSON, "event is not valid: %v", jsonProblem(err))
	}
	var ps []Problem
	add := func(field, code, format string, args ...any) {
		ps = append(ps, Problem{field, code, fmt.Sprintf(format, args...)})
	}
	switch problem := ProjectIDProblem(ev.ProjectID); {
	case ev.ProjectID == "":
		add("project_id", ValidationRequired, "is required")
	case problem != "":
		add("project_id", ValidationFormat, "%s", problem)
	}
	switch {
	case ev.EventID == "":
		add("event_id", ValidationRequired, "is required")
	case len(ev.EventID) > MaxEventIDBytes || hasControl(ev.EventID):
		add("event_id", ValidationFormat, "must be at most %d printable characters", MaxEventIDBytes)
	}
	if ev.Environment == "" {
		add("environment", ValidationRequired, "is required")
	}
	switch {
	case !IsEntityType(ev.EntityType):
		add("entity_type", ValidationEnum, "unknown entity type %q", ev.EntityType)
	case !IsEventType(ev.EntityType, ev.EventType):
		add("event_type", ValidationEnum, "%q is not an event of %s", ev.EventType, ev.EntityType)
	}
	if ev.EventTriggeredAt.IsZero() {
		add("event_triggered_at", ValidationRequired, "is required (RFC 3339)")
	}
	var ent entityRef
	if len(ev.Entity) == 0 || string(ev.Entity) == "null" {
		add("entity", ValidationRequired, "is required")
	} else if err := json.Unmarshal(ev.Entity, &ent); err != nil {
		add("entity", ValidationFormat, "must be a JSON:API entity object")
	} else {
		if ent.ID == "" {
			add("entity.id", ValidationRequired, "is required")
		}
		if ent.Type == "" {
			add("entity.type", ValidationRequired, "is required")
		}
	}
	var related []entityRef
	if len(ev.RelatedEntities) > 0 && string(ev.RelatedEntities) != "null" {
		if err := json.Unmarshal(ev.RelatedEntities, &related); err != nil {
			add("related_entities", ValidationFormat, "must be an array of entities")
		}
	}
	if len(ev.PreviousEntity) > 0 && string(ev.PreviousEntity) != "null" && ev.PreviousEntity[0] != '{' {
		add("previous_entity", ValidationFormat, "must be an object or null")
	}
	if err := Invalid(ps); err != nil {
		return nil, nil, err
	}
	ev.EventTriggeredAt = ev.EventTriggeredAt.UTC()
	return &ev, subjectOf(&ev, &ent, related), nil
}

func subjectOf(ev *Event, ent *entityRef, related []entityRef) *Subject {
	s := &Subject{
		EntityType:  ev.EntityType,
		EventType:   ev.EventType,
		EntityID:    ent.ID,
		Environment: ev.Environment,
		Primary:     ev.IsEnvironmentPrimary,
	}
	switch ev.EntityType {
	case EntityItem:
		if d := ent.Relationships.ItemType.Data; d != nil {
			s.ModelID = d.ID
		}
		// The model's API key comes with the model among related_entities
		// (DatoCMS's enhanced payloads include it).
		for _, r := range related {
			if r.Type == EntityItemType && r.ID == s.ModelID {
				s.ModelAPIKey = r.Attributes.APIKey
			}
		}
	case EntityItemType:
		s.ModelID = ent.ID
		s.ModelAPIKey = ent.Attributes.APIKey
	}
	return s
}

// jsonProblem turns a decoding error into a message that names the field
// without echoing the input.
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.UnmarshalTypeError:
		if e.Field != "" {
			return fmt.Sprintf("%s must be a %s", e.Field, e.Type)
		}
		return "the document must be a JSON object"
	case *json.SyntaxError:
		return fmt.Sprintf("malformed JSON at byte %d", e.Offset)
	default:
		var t *time.ParseError
		if errors.As(err, &t) {
			return "event_triggered_at must be an RFC 3339 time"
		}
		return "malformed JSON"
	}
}

// Payload is the part of the event its calls need to render their requests.
func (ev *Event) Payload() Payload {
	return Payload{
		EventID:              ev.EventID,
		Environment:          ev.Environment,
		IsEnvironmentPrimary: ev.IsEnvironmentPrimary,
		EventTriggeredAt:     ev.EventTriggeredAt,
		Entity:               ev.Entity,
		PreviousEntity:       ev.PreviousEntity,
		RelatedEntities:      ev.RelatedEntities,
	}
}
