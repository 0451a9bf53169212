package herald

import "slices"

// Entity types: the kinds of thing an event is about.
const (
	EntityItem            = "item" // a record
	EntityItemType        = "item_type"
	EntityUpload          = "upload"
	EntityBuildTrigger    = "build_trigger"
	EntityEnvironment     = "environment"
	EntityMaintenanceMode = "maintenance_mode"
	EntitySSOUser         = "sso_user"
	EntityCDACacheTags    = "cda_cache_tags"
	// EntityWebhook is Herald's own: operational events about a webhook of
	// the project (docs/endpoint-health.md). The CMS cannot send them.
	EntityWebhook = "webhook"
)

// Filter entity types. Only item_type, item, build_trigger and environment
// double as entity types; environment_type filters on is_environment_primary.
const (
	FilterItem            = "item"
	FilterItemType        = "item_type"
	FilterBuildTrigger    = "build_trigger"
	FilterEnvironment     = "environment"
	FilterEnvironmentType = "environment_type"
)

// Values of an environment_type filter.
const (
	EnvironmentPrimary = "primary"
	EnvironmentSandbox = "sandbox"
)

// entityTypes lists, for each entity type, its event types and the filter
// types that can hold for it (CONTRACT §1). A filter that can never hold for
// its trigger is rejected rather than accepted and left to match nothing.
var entityTypes = []struct {
	entity  string
	events  []string
	filters []string
}{
	{EntityItem, []string{"create", "update", "delete", "publish", "unpublish"},
		[]string{FilterItem, FilterItemType, FilterEnvironment, FilterEnvironmentType}},
	{EntityItemType, []string{"create", "update", "delete"},
		[]string{FilterItemType, FilterEnvironment, FilterEnvironmentType}},
	{EntityUpload, []string{"create", "update", "delete"},
		[]string{FilterEnvironment, FilterEnvironmentType}},
	{EntityBuildTrigger, []string{"deploy_started", "deploy_succeeded", "deploy_failed"},
		[]string{FilterBuildTrigger, FilterEnvironment, FilterEnvironmentType}},
	{EntityEnvironment, []string{"create", "update", "promote", "delete"},
		[]string{FilterEnvironment, FilterEnvironmentType}},
	{EntityMaintenanceMode, []string{"change"}, nil},
	{EntitySSOUser, []string{"create"}, nil},
	{EntityCDACacheTags, []string{"invalidate"},
		[]string{FilterEnvironment, FilterEnvironmentType}},
	{EntityWebhook, []string{OpFailing, OpExhausted, OpDisabled, OpRecovered, OpPing}, nil},
}

// EntityTypes returns every entity type, in CONTRACT order.
func EntityTypes() []string {
	out := make([]string, len(entityTypes))
	for i, e := range entityTypes {
		out[i] = e.entity
	}
	return out
}

// EventTypes returns the event types valid for an entity type, or nil for an
// unknown one.
func EventTypes(entityType string) []string {
	for _, e := range entityTypes {
		if e.entity == entityType {
			return e.events
		}
	}
	return nil
}

// FilterTypes returns the filter types that can hold for an entity type.
func FilterTypes(entityType string) []string {
	for _, e := range entityTypes {
		if e.entity == entityType {
			return e.filters
		}
	}
	return nil
}

// AllEventTypes returns every event type of any entity, once each.
func AllEventTypes() []string {
	var out []string
	for _, e := range entityTypes {
		for _, ev := range e.events {
			if !slices.Contains(out, ev) {
				out = append(out, ev)
			}
		}
	}
	return out
}

// AllFilterTypes returns every filter entity type.
func AllFilterTypes() []string {
	return []string{FilterItemType, FilterItem, FilterBuildTrigger, FilterEnvironment, FilterEnvironmentType}
}

// IsEntityType reports whether s is a known entity type.
func IsEntityType(s string) bool { return EventTypes(s) != nil }

// IsEventType reports whether event is valid for entity.
func IsEventType(entity, event string) bool { return slices.Contains(EventTypes(entity), event) }
