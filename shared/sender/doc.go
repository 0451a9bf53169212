// Package sender makes Herald's outbound calls: one POST per attempt, never
// following a redirect, reporting the status, headers, a capped body and, on
// failure, an error kind (herald.ErrKind*) and a message safe to show the
// webhook's owner. It logs nothing; the delivery handler logs outcomes.
//
// # What it sends
//
// Exactly the request's headers, plus what net/http adds (Content-Length,
// Host, and a Go User-Agent if the caller set none; the delivery handler
// sets Herald's). It never asks for compression, so the body it caps and the
// headers it reports are the receiver's own. HTTP/1.1 only; TLS 1.2 or
// newer; no proxy, since a proxy would connect on Herald's behalf, past the
// address check.
//
// # Timeouts and limits
//
// ConnectTimeout (2 s) bounds each TCP connect; TotalTimeout (8 s) bounds
// the whole attempt, from name lookup to the last body byte read, so a
// receiver that never sends headers, or trickles its body, ends there. A
// response whose status arrived but whose body did not finish in time is a
// timeout failure that keeps its status: the contract's 8 s are "in all".
// The body is read up to MaxResponseBody; then the connection is closed
// rather than drained and BodyTruncated is set, so a 10 MB answer costs
// 16 KB.
//
// # SSRF protection
//
// Webhook URLs are user input and Herald runs inside AWS, so a call must not
// reach loopback, private networks, link-local addresses or the metadata
// service. The check runs at connect time, on the address the socket is
// about to connect to (net.Dialer.Control), for every address tried: a name
// that resolves to a private address, or resolves differently the second
// time (DNS rebinding), is refused however it was resolved. The dialer also
// checks each address before dialing, to name the host in the error. IPv4
// literals in the notations browsers and C resolvers accept (2130706433,
// 0177.0.0.1, 0x7f.1) are read as the addresses they spell, and IPv6 forms
// that embed an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96,
// 6to4 2002::/16) are as blocked as the address they embed. The ranges are
// in address.go; CheckAddr is the policy.
//
// AllowPrivate (ALLOW_PRIVATE_TARGETS, for the local stack) lets calls reach
// loopback, RFC 1918, CGNAT, IPv6 unique-local and the other special-purpose
// ranges, because receivers under test listen there. It does not open
// link-local (169.254.0.0/16, fe80::/10) or the metadata addresses
// (169.254.169.254, fd00:ec2::254 and AWS's other instance services in
// fd00:ec2::/64, Alibaba's 100.100.100.200): a local stack never needs them,
// and they hand out cloud credentials, so a deployment that sets the flag by
// mistake still cannot leak them. Addresses that are never a unicast
// destination (unspecified, multicast, broadcast, 240/4) stay blocked too.
//
// # Error kinds
//
// Errors are classified by type (errors.Is/As), never by text: blocked
// (*BlockedError), dns (*net.DNSError), timeout (deadlines), tls (record,
// certificate and handshake errors), refused (ECONNREFUSED), reset
// (ECONNRESET, EPIPE, or the connection closing before the response ends),
// network (anything else); and from the response: redirect (3xx, not
// followed) and http_status (any other non-2xx).
package sender
