package benchkit

import "fmt"

// RecordUpdate is an event as the CMS sends it when a record changes: a
// blog post of model modelID with a few fields, its previous version and its
// model among the related entities, about 2 KB of JSON. Benchmarks use it so
// that parsing, storing and rendering work on a body of a realistic size.
func RecordUpdate(project, eventID, modelID string) []byte {
	const attrs = `{"title":"Herald ships benchmarks","slug":"herald-ships-benchmarks",` +
		`"excerpt":"What a million webhooks cost, measured, with the commands that measure it.",` +
		`"body":"Webhook services are bought on three numbers: how fast a change reaches the receiver, how much traffic one deployment sustains, and what a million deliveries cost. This post publishes all three.",` +
		`"author":"293001","tags":["performance","aws","lambda"],"seo":{"title":"Herald benchmarks","description":"Measured figures","image":null},` +
		`"cover":{"upload_id":"u_8812","alt":"A bar chart","focal_point":{"x":0.5,"y":0.4}},"published_at":"2026-11-26T10:54:00Z"}`
	entity := func(version string) string {
		return fmt.Sprintf(`{"id":"293467","type":"item","attributes":%s,`+
			`"relationships":{"item_type":{"data":{"id":%q,"type":"item_type"}},"creator":{"data":{"id":"1001","type":"user"}}},`+
			`"meta":{"created_at":"2026-11-20T08:00:00Z","updated_at":"2026-11-26T10:54:09Z","published_at":"2026-11-26T10:54:00Z",`+
			`"first_published_at":"2026-11-21T09:00:00Z","status":"published","is_valid":true,"current_version":%q,"stage":null}}`,
			attrs, modelID, version)
	}
	return fmt.Appendf(nil, `{"project_id":%q,"event_id":%q,"environment":"main","is_environment_primary":true,`+
		`"entity_type":"item","event_type":"update","event_triggered_at":"2026-11-26T10:54:09Z",`+
		`"entity":%s,"previous_entity":%s,`+
		`"related_entities":[{"id":%q,"type":"item_type","attributes":{"name":"Blog post","api_key":"blog_post","singleton":false,"sortable":false}}]}`,
		project, eventID, entity("v2"), entity("v1"), modelID)
}
