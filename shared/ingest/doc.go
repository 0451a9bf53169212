// Package ingest turns CMS events into webhook calls: it matches each event
// against its project's webhooks, records the event and one call per match,
// and puts one delivery job per call on the queue. An event is reported
// accepted only once all of that is done; sending the same event again then
// creates nothing new, and heals an earlier attempt that crashed half way.
package ingest
