package herald

import "slices"

// Matcher finds the webhooks an event fires. It indexes a project's enabled
// webhooks by entity and event type, and each trigger by its most selective
// filter, so matching an event costs in proportion to the triggers that can
// match it rather than to every webhook of the project.
type Matcher struct {
	webhooks []*Webhook
	byEvent  map[eventKey]*triggerIndex
}

type eventKey struct{ entity, event string }

// triggerIndex holds the triggers of one (entity, event) pair: those without
// an indexable filter, and the others under the ids of their chosen filter.
type triggerIndex struct {
	open  []ref
	byKey map[filterKey][]ref
}

type filterKey struct{ filterType, id string }

// ref points at one trigger of one webhook, by position.
type ref struct{ webhook, trigger int }

// filterRank orders filter types from most to least selective; a trigger is
// indexed under the first of its filters in this order.
var filterRank = []string{FilterItem, FilterBuildTrigger, FilterItemType, FilterEnvironment, FilterEnvironmentType}

// NewMatcher indexes webhooks. Disabled webhooks match nothing and are left
// out.
func NewMatcher(webhooks []*Webhook) *Matcher {
	m := &Matcher{byEvent: map[eventKey]*triggerIndex{}}
	for _, w := range webhooks {
		if !w.Enabled {
			continue
		}
		wi := len(m.webhooks)
		m.webhooks = append(m.webhooks, w)
		for ti, t := range w.Events {
			r := ref{wi, ti}
			best := indexFilter(t.Filters)
			for _, ev := range t.EventTypes {
				k := eventKey{t.EntityType, ev}
				idx := m.byEvent[k]
				if idx == nil {
					idx = &triggerIndex{byKey: map[filterKey][]ref{}}
					m.byEvent[k] = idx
				}
				if best < 0 {
					idx.open = appendOnce(idx.open, r)
					continue
				}
				f := t.Filters[best]
				for _, id := range f.EntityIDs {
					fk := filterKey{f.EntityType, id}
					idx.byKey[fk] = appendOnce(idx.byKey[fk], r)
				}
			}
		}
	}
	return m
}

// Len returns the number of enabled webhooks indexed.
func (m *Matcher) Len() int { return len(m.webhooks) }

// Match returns the webhooks whose triggers match the subject, each once, in
// the order they were given to NewMatcher; for an operational event, never
// the webhook it is about.
func (m *Matcher) Match(s *Subject) []*Webhook {
	idx := m.byEvent[eventKey{s.EntityType, s.EventType}]
	if idx == nil {
		return nil
	}
	// A webhook with several matching triggers is collected more than once,
	// then compacted: cheaper than a set when thousands match.
	var hits []int
	// An operational event about a webhook never goes to that webhook: a
	// failing endpoint would only fail it again.
	about := ""
	if s.EntityType == EntityWebhook {
		about = s.EntityID
	}
	consider := func(refs []ref) {
		for _, r := range refs {
			if about != "" && m.webhooks[r.webhook].ID == about {
				continue
			}
			if filtersHold(m.webhooks[r.webhook].Events[r.trigger].Filters, s) {
				hits = append(hits, r.webhook)
			}
		}
	}
	consider(idx.open)
	for _, fk := range subjectKeys(s) {
		consider(idx.byKey[fk])
	}
	slices.Sort(hits)
	hits = slices.Compact(hits)
	out := make([]*Webhook, len(hits))
	for i, h := range hits {
		out[i] = m.webhooks[h]
	}
	return out
}

// subjectKeys lists the (filter type, id) pairs the subject satisfies: the
// keys under which a trigger that can match it may be indexed.
func subjectKeys(s *Subject) []filterKey {
	keys := make([]filterKey, 0, 6)
	switch s.EntityType {
	case EntityItem:
		keys = append(keys, filterKey{FilterItem, s.EntityID})
	case EntityBuildTrigger:
		keys = append(keys, filterKey{FilterBuildTrigger, s.EntityID})
	}
	if s.ModelID != "" {
		keys = append(keys, filterKey{FilterItemType, s.ModelID})
	}
	if s.ModelAPIKey != "" && s.ModelAPIKey != s.ModelID {
		keys = append(keys, filterKey{FilterItemType, s.ModelAPIKey})
	}
	keys = append(keys,
		filterKey{FilterEnvironment, s.Environment},
		filterKey{FilterEnvironmentType, environmentType(s.Primary)})
	return keys
}

// filtersHold reports whether every filter holds for the subject; the ids
// within one filter are alternatives.
func filtersHold(filters []Filter, s *Subject) bool {
	for _, f := range filters {
		if !filterHolds(f, s) {
			return false
		}
	}
	return true
}

func filterHolds(f Filter, s *Subject) bool {
	switch f.EntityType {
	case FilterItem:
		return s.EntityType == EntityItem && slices.Contains(f.EntityIDs, s.EntityID)
	case FilterBuildTrigger:
		return s.EntityType == EntityBuildTrigger && slices.Contains(f.EntityIDs, s.EntityID)
	case FilterItemType:
		return (s.ModelID != "" && slices.Contains(f.EntityIDs, s.ModelID)) ||
			(s.ModelAPIKey != "" && slices.Contains(f.EntityIDs, s.ModelAPIKey))
	case FilterEnvironment:
		return slices.Contains(f.EntityIDs, s.Environment)
	case FilterEnvironmentType:
		return slices.Contains(f.EntityIDs, environmentType(s.Primary))
	}
	return false
}

func environmentType(primary bool) string {
	if primary {
		return EnvironmentPrimary
	}
	return EnvironmentSandbox
}

// indexFilter returns the position of the most selective filter, or -1 when
// there is none.
func indexFilter(filters []Filter) int {
	best, bestRank := -1, len(filterRank)
	for i, f := range filters {
		if r := slices.Index(filterRank, f.EntityType); r >= 0 && r < bestRank {
			best, bestRank = i, r
		}
	}
	return best
}

func appendOnce(refs []ref, r ref) []ref {
	if n := len(refs); n > 0 && refs[n-1] == r {
		return refs
	}
	return append(refs, r)
}
