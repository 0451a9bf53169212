// Package e2e runs Herald whole: the three functions' real bootstraps under
// the Lambda Runtime Interface Emulator, the local API gateway, the SQS
// poller and sweep, moto, real receivers on 127.0.0.1, and the official
// DatoCMS, Standard Webhooks and Svix clients from npm.
package e2e
