// Package delivery sends webhook calls. A first attempt comes from the FIFO
// first-attempt queue, which has already dropped duplicates of its job, and
// is sent without a claim; a retry or a resend first claims its attempt (a
// conditional write, so a duplicated message or a racing resend cannot send
// it twice). Each attempt renders the request with the webhook's current
// settings, signs and sends it, records what happened, and schedules the
// next retry: on the queue with a delay when it is due within SQS's 15
// minutes, otherwise parked in the table for the sweep, which puts it on the
// queue when it comes within reach. After a failure it keeps the webhook's
// health, raises the operational events due (failing, exhausted, disabled,
// recovered) through ingest's code, and disables a webhook whose every
// attempt failed for the auto-disable window (docs/endpoint-health.md).
package delivery
