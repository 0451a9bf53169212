package herald

import (
	"fmt"
	"slices"
	"testing"
)

func hook(id string, enabled bool, triggers ...Trigger) *Webhook {
	return &Webhook{ID: id, Enabled: enabled, Events: triggers}
}

func trig(entity string, events []string, filters ...Filter) Trigger {
	return Trigger{EntityType: entity, EventTypes: events, Filters: filters}
}

func filter(kind string, ids ...string) Filter { return Filter{EntityType: kind, EntityIDs: ids} }

func ids(ws []*Webhook) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, w.ID)
	}
	return out
}

// A record update in model 1423 ("article"), in the primary environment "main".
func recordUpdate() *Subject {
	return &Subject{EntityType: "item", EventType: "update", EntityID: "293467",
		ModelID: "1423", ModelAPIKey: "article", Environment: "main", Primary: true}
}

func TestMatchEveryEntityAndEventType(t *testing.T) {
	for _, entity := range EntityTypes() {
		for _, event := range EventTypes(entity) {
			t.Run(entity+"/"+event, func(t *testing.T) {
				others := slices.DeleteFunc(slices.Clone(EventTypes(entity)), func(e string) bool { return e == event })
				hooks := []*Webhook{
					hook("exact", true, trig(entity, []string{event})),
					hook("all-events", true, trig(entity, EventTypes(entity))),
					hook("disabled", false, trig(entity, []string{event})),
				}
				if len(others) > 0 {
					hooks = append(hooks, hook("other-events", true, trig(entity, others)))
				}
				for _, other := range EntityTypes() {
					if other != entity {
						hooks = append(hooks, hook("entity-"+other, true, trig(other, EventTypes(other))))
					}
				}
				got := ids(NewMatcher(hooks).Match(&Subject{EntityType: entity, EventType: event, EntityID: "1", Environment: "main"}))
				if want := []string{"exact", "all-events"}; !slices.Equal(got, want) {
					t.Errorf("matched %v; want %v", got, want)
				}
			})
		}
	}
}

func TestMatchFilters(t *testing.T) {
	tests := map[string]struct {
		subject *Subject
		trigger Trigger
		want    bool
	}{
		"item id hit":              {recordUpdate(), trig("item", []string{"update"}, filter("item", "1", "293467")), true},
		"item id miss":             {recordUpdate(), trig("item", []string{"update"}, filter("item", "1")), false},
		"model id hit":             {recordUpdate(), trig("item", []string{"update"}, filter("item_type", "1423")), true},
		"model api key hit":        {recordUpdate(), trig("item", []string{"update"}, filter("item_type", "article")), true},
		"model miss":               {recordUpdate(), trig("item", []string{"update"}, filter("item_type", "9", "post")), false},
		"environment hit":          {recordUpdate(), trig("item", []string{"update"}, filter("environment", "main")), true},
		"environment miss":         {recordUpdate(), trig("item", []string{"update"}, filter("environment", "staging")), false},
		"environment type primary": {recordUpdate(), trig("item", []string{"update"}, filter("environment_type", "primary")), true},
		"environment type sandbox": {recordUpdate(), trig("item", []string{"update"}, filter("environment_type", "sandbox")), false},
		"every filter must hold":   {recordUpdate(), trig("item", []string{"update"}, filter("item_type", "1423"), filter("environment", "staging")), false},
		"all filters hold":         {recordUpdate(), trig("item", []string{"update"}, filter("item_type", "1423"), filter("environment", "main"), filter("item", "293467")), true},
		"event type not listed":    {recordUpdate(), trig("item", []string{"publish"}, filter("item_type", "1423")), false},
		"sandbox environment": {&Subject{EntityType: "upload", EventType: "create", EntityID: "u1", Environment: "feature", Primary: false},
			trig("upload", []string{"create"}, filter("environment_type", "sandbox")), true},
		"model event by id": {&Subject{EntityType: "item_type", EventType: "update", EntityID: "1423", ModelID: "1423", ModelAPIKey: "article", Environment: "main", Primary: true},
			trig("item_type", []string{"update"}, filter("item_type", "1423")), true},
		"model event by api key": {&Subject{EntityType: "item_type", EventType: "update", EntityID: "1423", ModelID: "1423", ModelAPIKey: "article", Environment: "main", Primary: true},
			trig("item_type", []string{"update"}, filter("item_type", "article")), true},
		"model event miss": {&Subject{EntityType: "item_type", EventType: "delete", EntityID: "7", ModelID: "7", Environment: "main", Primary: true},
			trig("item_type", []string{"delete"}, filter("item_type", "1423")), false},
		"build trigger hit": {&Subject{EntityType: "build_trigger", EventType: "deploy_failed", EntityID: "bt9", Environment: "main", Primary: true},
			trig("build_trigger", []string{"deploy_failed"}, filter("build_trigger", "bt9")), true},
		"build trigger miss": {&Subject{EntityType: "build_trigger", EventType: "deploy_failed", EntityID: "bt9", Environment: "main", Primary: true},
			trig("build_trigger", []string{"deploy_failed"}, filter("build_trigger", "bt1")), false},
		"environment event": {&Subject{EntityType: "environment", EventType: "promote", EntityID: "main", Environment: "main", Primary: true},
			trig("environment", []string{"promote"}, filter("environment", "main")), true},
		"record without model never matches a model filter": {&Subject{EntityType: "item", EventType: "update", EntityID: "1", Environment: "main"},
			trig("item", []string{"update"}, filter("item_type", "1423")), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := len(NewMatcher([]*Webhook{hook("w", true, tc.trigger)}).Match(tc.subject)) == 1
			if got != tc.want {
				t.Errorf("matched = %v; want %v", got, tc.want)
			}
			// The index must agree with the plain definition.
			if plain := filtersHold(tc.trigger.Filters, tc.subject) && slices.Contains(tc.trigger.EventTypes, tc.subject.EventType); plain != tc.want {
				t.Errorf("filtersHold = %v; want %v", plain, tc.want)
			}
		})
	}
}

func TestMatchFiresOncePerWebhook(t *testing.T) {
	w := hook("multi", true,
		trig("item", []string{"update"}),
		trig("item", []string{"update", "publish"}, filter("item_type", "1423")),
		trig("item", []string{"update"}, filter("environment", "main")),
	)
	got := ids(NewMatcher([]*Webhook{w, hook("other", true, trig("item", []string{"update"}, filter("item", "293467")))}).Match(recordUpdate()))
	if want := []string{"multi", "other"}; !slices.Equal(got, want) {
		t.Errorf("matched %v; want %v", got, want)
	}
}

func TestMatchSecondTriggerMatches(t *testing.T) {
	w := hook("w", true,
		trig("item", []string{"update"}, filter("item_type", "999")),
		trig("upload", []string{"create"}),
		trig("item", []string{"update"}, filter("item", "293467")),
	)
	if got := ids(NewMatcher([]*Webhook{w}).Match(recordUpdate())); !slices.Equal(got, []string{"w"}) {
		t.Errorf("matched %v; want [w]", got)
	}
}

func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("webhooks=%d", n), func(b *testing.B) {
			m := NewMatcher(benchWebhooks(n))
			s := recordUpdate()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.Match(s)
			}
			// The cost grows with the webhooks that match (one in ten
			// has no filter), not with the project: say how many.
			b.ReportMetric(float64(len(m.Match(s))), "matches")
		})
	}
}

// benchWebhooks is a project shaped like real ones: most webhooks filter on a
// model, a few on an environment, one in ten has no filter at all.
func benchWebhooks(n int) []*Webhook {
	hooks := make([]*Webhook, n)
	for i := range hooks {
		var t Trigger
		switch {
		case i%10 == 0:
			t = trig("item", []string{"update", "publish"})
		case i%10 == 1:
			t = trig("item", []string{"update"}, filter("environment", fmt.Sprintf("env-%d", i)))
		default:
			t = trig("item", []string{"create", "update", "delete"}, filter("item_type", fmt.Sprintf("%d", 1000+i)))
		}
		hooks[i] = hook(fmt.Sprintf("w%d", i), true, t, trig("upload", []string{"create"}))
	}
	return hooks
}

// BenchmarkMatchOne is a project whose webhooks each filter on their own
// model, so one matches: what the index costs when it narrows well.
func BenchmarkMatchOne(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("webhooks=%d", n), func(b *testing.B) {
			hooks := make([]*Webhook, n)
			for i := range hooks {
				model := fmt.Sprintf("m%d", i)
				if i == n/2 {
					model = "1423"
				}
				hooks[i] = hook(fmt.Sprintf("w%d", i), true, trig("item", []string{"create", "update", "publish"}, filter("item_type", model)))
			}
			m := NewMatcher(hooks)
			s := recordUpdate()
			b.ReportAllocs()
			for b.Loop() {
				m.Match(s)
			}
			if got := len(m.Match(s)); got != 1 {
				b.Fatalf("%d matches; want 1", got)
			}
		})
	}
}
