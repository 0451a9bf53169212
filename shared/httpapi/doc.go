// Package httpapi is Herald's HTTP API, wire-compatible with DatoCMS's
// Content Management API for webhooks and webhook calls (CONTRACT §1): JSON:API
// documents, Bearer tokens scoped to one project, DatoCMS-shaped errors.
//
// Server is a plain http.Handler; Lambda adapts it to API Gateway HTTP API
// (payload format 2.0) events, so tests and the local gateway use the same
// code the deployed function runs.
package httpapi
