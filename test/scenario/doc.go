// Package scenario drives Herald's handlers, in this process, through stories
// that take days of Herald's time, in seconds: the API, ingest and delivery
// handlers against moto (a real DynamoDB stand-in, over HTTP), real
// receivers on 127.0.0.1, and an injected clock. The queues between them are
// clock-driven stand-ins (clockQueue), so that a retry two days away is due
// as soon as the clock says so; the queues themselves are tested against
// moto elsewhere (shared/sqs, shared/delivery, test/e2e).
package scenario
