// Package harness is what the local runs that drive Herald end to end share
// (make dev, make load, make chaos, make cost): one webhook Receiver that
// checks signatures, logs every request by its webhook-id and fails on
// purpose when asked; Events made from the repository's sample and a CMS
// that sends them to the ingest function as a CMS would; Seed, which starts
// a run's project; and the Ledger, which balances a run's events, the
// calls in the table and the receiver's log, with a reason for every
// disagreement.
package harness
