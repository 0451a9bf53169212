// Package delivery sends webhook calls. For each job from the queue it
// claims the attempt (a conditional write, so a duplicated message or a
// racing resend cannot send it twice), renders the request with the webhook's
// current settings, signs and sends it, records what happened, and schedules
// the next retry: on the queue with a delay when it is due within SQS's 15
// minutes, otherwise parked in the table for the sweeper, which puts it on
// the queue when it comes within reach.
package delivery
