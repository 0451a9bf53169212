// Package signing signs Herald's calls the Standard Webhooks way
// (https://www.standardwebhooks.com, symmetric scheme), so that the official
// standardwebhooks and svix libraries verify them unchanged.
//
// A call carries three headers: webhook-id (the call id, the same on every
// retry, so receivers can drop duplicates), webhook-timestamp (unix seconds of
// this attempt, so receivers can refuse replays) and webhook-signature, a
// space-separated list of "v1,<base64 HMAC-SHA256 of id.timestamp.body>".
// While a rotated secret is still valid both the current and the previous key
// sign, current first, and a receiver holding either secret accepts the call.
//
// Secrets are "whsec_" followed by the standard base64 of the key. Herald
// makes 32-byte keys; ParseSecret accepts 24 to 64 bytes, the range the
// contract promises receivers.
//
// Verify exists for Herald's own tests and documentation examples; receivers
// use the official libraries.
package signing
