package sender

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// BlockedError is the refusal to connect to an address. Host is the name
// that resolved to Addr, when there was one.
type BlockedError struct {
	Addr   netip.Addr
	Host   string
	Reason string
}

func (e *BlockedError) Error() string {
	if e.Host != "" {
		return fmt.Sprintf("address %s (from %s) is %s", e.Addr, e.Host, e.Reason)
	}
	return fmt.Sprintf("address %s is %s", e.Addr, e.Reason)
}

// rule is one range of special addresses. always rules hold even when
// private targets are allowed.
type rule struct {
	prefix netip.Prefix
	reason string
	always bool
}

func rules(specs ...rule) []rule { return specs }

func r(prefix, reason string, always bool) rule {
	return rule{netip.MustParsePrefix(prefix), reason, always}
}

const (
	always  = true
	relaxed = false
)

// The first matching rule wins, so specific ranges come before the ranges
// that hold them.
var (
	ipv4Rules = rules(
		r("0.0.0.0/8", `unspecified ("this network")`, always),
		r("10.0.0.0/8", "private (RFC 1918)", relaxed),
		r("100.100.100.200/32", "a cloud metadata service (Alibaba Cloud)", always),
		r("100.64.0.0/10", "shared address space (CGNAT, RFC 6598)", relaxed),
		r("127.0.0.0/8", "loopback", relaxed),
		r("169.254.169.254/32", "the cloud metadata service", always),
		// AWS keeps every instance service here: IMDS, ECS and EKS
		// credentials (169.254.170.2, .23), DNS, NTP.
		r("169.254.0.0/16", "link-local", always),
		r("172.16.0.0/12", "private (RFC 1918)", relaxed),
		r("192.0.0.0/24", "reserved for IETF protocol assignments (RFC 6890)", relaxed),
		r("192.0.2.0/24", "reserved for documentation (RFC 5737)", relaxed),
		r("192.88.99.0/24", "the deprecated 6to4 relay anycast (RFC 7526)", relaxed),
		r("192.168.0.0/16", "private (RFC 1918)", relaxed),
		r("198.18.0.0/15", "reserved for benchmarking (RFC 2544)", relaxed),
		r("198.51.100.0/24", "reserved for documentation (RFC 5737)", relaxed),
		r("203.0.113.0/24", "reserved for documentation (RFC 5737)", relaxed),
		r("224.0.0.0/4", "multicast", always),
		r("255.255.255.255/32", "broadcast", always),
		r("240.0.0.0/4", "reserved (RFC 1112)", always),
	)
	ipv6Rules = rules(
		r("::/128", "unspecified", always),
		r("::1/128", "loopback", relaxed),
		r("64:ff9b:1::/48", "local-use NAT64 (RFC 8215)", relaxed),
		r("100::/64", "discard-only (RFC 6666)", relaxed),
		// Teredo hides its IPv4 addresses (one of them XOR-ed); refuse the
		// range rather than decode them.
		r("2001::/32", "Teredo (RFC 4380)", relaxed),
		r("2001:2::/48", "reserved for benchmarking (RFC 5180)", relaxed),
		r("2001:db8::/32", "reserved for documentation (RFC 3849)", relaxed),
		r("3fff::/20", "reserved for documentation (RFC 9637)", relaxed),
		r("5f00::/16", "segment routing (RFC 9602)", relaxed),
		r("fd00:ec2::254/128", "the cloud metadata service", always),
		// AWS's IPv6 instance services: IMDS, DNS, NTP, EKS credentials.
		r("fd00:ec2::/64", "an AWS instance service", always),
		r("fc00::/7", "unique local (IPv6 private, RFC 4193)", relaxed),
		r("fe80::/10", "link-local", always),
		r("fec0::/10", "site-local (deprecated, RFC 3879)", relaxed),
		r("ff00::/8", "multicast", always),
	)
)

// Ranges whose addresses embed an IPv4 address in their last 32 bits (6to4
// in bits 16–48): they are as blocked as the address they embed.
var (
	mappedPrefix  = netip.MustParsePrefix("::ffff:0:0/96")
	compatPrefix  = netip.MustParsePrefix("::/96")
	nat64Prefix   = netip.MustParsePrefix("64:ff9b::/96")
	sixToFourPref = netip.MustParsePrefix("2002::/16")
)

// CheckAddr returns a *BlockedError if Herald must not connect to addr, and
// nil if it may. With allowPrivate, only the always-blocked ranges are
// refused: link-local (which holds the cloud metadata services), the
// metadata addresses themselves, and addresses that are never a unicast
// destination (unspecified, multicast, broadcast, 240/4).
func CheckAddr(addr netip.Addr, allowPrivate bool) error {
	addr = addr.WithZone("")
	reason, isAlways := classify(addr)
	if reason == "" || (allowPrivate && !isAlways) {
		return nil
	}
	return &BlockedError{Addr: addr, Reason: reason}
}

// classify returns why addr is special, and whether it stays blocked when
// private targets are allowed; reason is "" for an ordinary public address.
func classify(addr netip.Addr) (reason string, isAlways bool) {
	if addr.Is4() {
		return match(ipv4Rules, addr)
	}
	if !addr.Is6() {
		return "not an IP address", true
	}
	if reason, isAlways := match(ipv6Rules, addr); reason != "" {
		return reason, isAlways
	}
	var kind string
	var v4 netip.Addr
	a16 := addr.As16()
	switch {
	case mappedPrefix.Contains(addr):
		kind, v4 = "IPv4-mapped", addr.Unmap()
	case compatPrefix.Contains(addr):
		kind, v4 = "IPv4-compatible", netip.AddrFrom4([4]byte(a16[12:16]))
	case nat64Prefix.Contains(addr):
		kind, v4 = "NAT64", netip.AddrFrom4([4]byte(a16[12:16]))
	case sixToFourPref.Contains(addr):
		kind, v4 = "6to4", netip.AddrFrom4([4]byte(a16[2:6]))
	default:
		return "", false
	}
	if reason, isAlways := match(ipv4Rules, v4); reason != "" {
		return fmt.Sprintf("the %s form of %s, which is %s", kind, v4, reason), isAlways
	}
	return "", false
}

func match(rs []rule, addr netip.Addr) (string, bool) {
	for _, r := range rs {
		if r.prefix.Contains(addr) {
			return r.reason, r.always
		}
	}
	return "", false
}

// parseHostIP returns the address a URL host names when it is an IP literal
// in any notation that browsers (the WHATWG URL standard) and inet_aton
// accept: dotted decimal, but also one to four parts in decimal, octal
// (leading 0) or hex (0x), like "2130706433", "0177.0.0.1", "0x7f.1"; and
// IPv6 with an optional zone. Go's resolver treats those IPv4 spellings as
// names, a C resolver as addresses; reading them as addresses up front
// makes the check and the error the same everywhere.
func parseHostIP(host string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a, true
	}
	// A fully qualified "127.0.0.1." is the same address.
	parts := strings.Split(strings.TrimSuffix(host, "."), ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var nums [4]uint64
	for i, p := range parts {
		n, ok := parseIPv4Part(p)
		if !ok {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	// All parts but the last are one byte; the last fills the rest.
	last := len(parts) - 1
	var v uint64
	for i := range last {
		if nums[i] > 0xff {
			return netip.Addr{}, false
		}
		v |= nums[i] << (8 * (3 - i))
	}
	if nums[last] >= 1<<(8*(4-last)) {
		return netip.Addr{}, false
	}
	v |= nums[last]
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true // #nosec G115 -- v < 1<<32 (checked above); each byte() keeps one octet, on purpose
}

func parseIPv4Part(p string) (uint64, bool) {
	base := 10
	switch {
	case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
		base, p = 16, p[2:]
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	if p == "" || p[0] == '+' || p[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(p, base, 32)
	return n, err == nil
}
