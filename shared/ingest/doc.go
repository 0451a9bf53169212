// Package ingest turns CMS events into webhook calls: it matches each event
// against its project's webhooks, records the event (its payload once) and
// one call per match, and puts one first-attempt job per call on the FIFO
// first-attempt queue. An event is reported accepted only once all of that
// is done; sending the same event again then creates nothing new, and heals
// an earlier attempt that crashed half way. Raise takes Herald's own
// operational events (entity type webhook) down the same path; the CMS may
// not send them.
package ingest
