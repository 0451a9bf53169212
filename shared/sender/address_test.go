package sender

import (
	"errors"
	"net/netip"
	"testing"
)

func TestCheckAddr(t *testing.T) {
	// reason: the reason CheckAddr gives without AllowPrivate ("" = allowed);
	// always: still blocked with AllowPrivate.
	tests := []struct {
		addr   string
		reason string
		always bool
	}{
		// Ordinary public addresses.
		{"8.8.8.8", "", false},
		{"93.184.216.34", "", false},
		{"2606:4700:4700::1111", "", false},
		{"2a00:1450:4001:80b::200e", "", false},

		{"127.0.0.1", "loopback", false},
		{"127.255.255.254", "loopback", false},
		{"::1", "loopback", false},
		{"10.0.0.5", "private (RFC 1918)", false},
		{"172.16.0.1", "private (RFC 1918)", false},
		{"172.31.255.255", "private (RFC 1918)", false},
		{"172.32.0.1", "", false},
		{"192.168.1.1", "private (RFC 1918)", false},
		{"fd12:3456:789a::1", "unique local (IPv6 private, RFC 4193)", false},
		{"fc00::1", "unique local (IPv6 private, RFC 4193)", false},
		{"100.64.0.1", "shared address space (CGNAT, RFC 6598)", false},
		{"100.127.255.255", "shared address space (CGNAT, RFC 6598)", false},
		{"100.128.0.1", "", false},

		// Metadata and link-local stay blocked with AllowPrivate.
		{"169.254.169.254", "the cloud metadata service", true},
		{"169.254.170.2", "link-local", true},
		{"169.254.0.1", "link-local", true},
		{"fd00:ec2::254", "the cloud metadata service", true},
		{"fd00:ec2::23", "an AWS instance service", true},
		{"100.100.100.200", "a cloud metadata service (Alibaba Cloud)", true},
		{"fe80::1", "link-local", true},
		{"fe80::1%eth0", "link-local", true},

		// Never a unicast destination.
		{"0.0.0.0", `unspecified ("this network")`, true},
		{"0.1.2.3", `unspecified ("this network")`, true},
		{"::", "unspecified", true},
		{"224.0.0.1", "multicast", true},
		{"239.255.255.250", "multicast", true},
		{"ff02::1", "multicast", true},
		{"255.255.255.255", "broadcast", true},
		{"240.0.0.1", "reserved (RFC 1112)", true},

		// Special-purpose ranges.
		{"192.0.0.8", "reserved for IETF protocol assignments (RFC 6890)", false},
		{"192.0.2.1", "reserved for documentation (RFC 5737)", false},
		{"198.51.100.7", "reserved for documentation (RFC 5737)", false},
		{"203.0.113.9", "reserved for documentation (RFC 5737)", false},
		{"198.18.0.1", "reserved for benchmarking (RFC 2544)", false},
		{"198.19.255.255", "reserved for benchmarking (RFC 2544)", false},
		{"198.20.0.1", "", false},
		{"192.88.99.1", "the deprecated 6to4 relay anycast (RFC 7526)", false},
		{"2001:db8::1", "reserved for documentation (RFC 3849)", false},
		{"3fff::1", "reserved for documentation (RFC 9637)", false},
		{"2001::1", "Teredo (RFC 4380)", false},
		{"2001:2::1", "reserved for benchmarking (RFC 5180)", false},
		{"100::1", "discard-only (RFC 6666)", false},
		{"fec0::1", "site-local (deprecated, RFC 3879)", false},
		{"5f00::1", "segment routing (RFC 9602)", false},
		{"64:ff9b:1::a00:1", "local-use NAT64 (RFC 8215)", false},

		// IPv6 forms of IPv4 addresses are as blocked as what they embed.
		{"::ffff:127.0.0.1", "the IPv4-mapped form of 127.0.0.1, which is loopback", false},
		{"::ffff:10.0.0.1", "the IPv4-mapped form of 10.0.0.1, which is private (RFC 1918)", false},
		{"::ffff:169.254.169.254", "the IPv4-mapped form of 169.254.169.254, which is the cloud metadata service", true},
		{"::ffff:8.8.8.8", "", false},
		{"::127.0.0.1", "the IPv4-compatible form of 127.0.0.1, which is loopback", false},
		{"::10.1.2.3", "the IPv4-compatible form of 10.1.2.3, which is private (RFC 1918)", false},
		{"::0.0.0.2", `the IPv4-compatible form of 0.0.0.2, which is unspecified ("this network")`, true},
		{"64:ff9b::7f00:1", "the NAT64 form of 127.0.0.1, which is loopback", false},
		{"64:ff9b::a9fe:a9fe", "the NAT64 form of 169.254.169.254, which is the cloud metadata service", true},
		{"64:ff9b::808:808", "", false},
		{"2002:7f00:1::", "the 6to4 form of 127.0.0.1, which is loopback", false},
		{"2002:a00:1::1", "the 6to4 form of 10.0.0.1, which is private (RFC 1918)", false},
		{"2002:a9fe:a9fe::1", "the 6to4 form of 169.254.169.254, which is the cloud metadata service", true},
		{"2002:808:808::1", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			addr := netip.MustParseAddr(tc.addr)

			err := CheckAddr(addr, false)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("CheckAddr(%s, false) = %v, want allowed", tc.addr, err)
				}
			} else {
				var be *BlockedError
				if !errors.As(err, &be) {
					t.Fatalf("CheckAddr(%s, false) = %v, want a *BlockedError", tc.addr, err)
				}
				if be.Reason != tc.reason {
					t.Errorf("reason = %q, want %q", be.Reason, tc.reason)
				}
				if want := "address " + addr.WithZone("").String() + " is " + tc.reason; err.Error() != want {
					t.Errorf("error = %q, want %q", err, want)
				}
			}

			err = CheckAddr(addr, true)
			if got := err != nil; got != tc.always {
				t.Errorf("CheckAddr(%s, allowPrivate) blocked = %v (%v), want %v", tc.addr, got, err, tc.always)
			}
		})
	}
}

func TestCheckAddrInvalid(t *testing.T) {
	for _, allowPrivate := range []bool{false, true} {
		if err := CheckAddr(netip.Addr{}, allowPrivate); err == nil {
			t.Errorf("CheckAddr(zero Addr, %v) = nil, want blocked", allowPrivate)
		}
	}
}

func TestParseHostIP(t *testing.T) {
	tests := map[string]string{ // host -> address, "" = not an address
		"127.0.0.1":           "127.0.0.1",
		"2130706433":          "127.0.0.1",
		"0177.0.0.1":          "127.0.0.1",
		"0x7f.0.0.1":          "127.0.0.1",
		"0X7F.0.0.1":          "127.0.0.1",
		"0x7f000001":          "127.0.0.1",
		"017700000001":        "127.0.0.1",
		"127.1":               "127.0.0.1",
		"127.0.1":             "127.0.0.1",
		"0x7f.1":              "127.0.0.1",
		"127.0.0.1.":          "127.0.0.1",
		"10.1":                "10.0.0.1",
		"0xa9.0xfe.0xa9.0xfe": "169.254.169.254",
		"2852039166":          "169.254.169.254",
		"4294967295":          "255.255.255.255",
		"1.16777215":          "1.255.255.255",
		"0":                   "0.0.0.0",
		"::1":                 "::1",
		"::ffff:127.0.0.1":    "::ffff:127.0.0.1",
		"fe80::1%eth0":        "fe80::1%eth0",

		"example.com":  "",
		"localhost":    "",
		"1e100.net":    "",
		"7f.0.0.1":     "",
		"256.0.0.1":    "",
		"1.2.3.4.5":    "",
		"4294967296":   "",
		"1.16777216":   "",
		"08.0.0.1":     "",
		"0x":           "",
		"127..1":       "",
		"":             "",
		"+1.2.3.4":     "",
		"1.2.3.-4":     "",
		"127.0.0.1..":  "",
		"0x1g.0.0.1":   "",
		"deadbeef":     "",
		"0xdeadbeef.a": "",
	}
	for host, want := range tests {
		got, ok := parseHostIP(host)
		switch {
		case want == "" && ok:
			t.Errorf("parseHostIP(%q) = %s, want not an address", host, got)
		case want != "" && !ok:
			t.Errorf("parseHostIP(%q) = not an address, want %s", host, want)
		case want != "" && got != netip.MustParseAddr(want):
			t.Errorf("parseHostIP(%q) = %s, want %s", host, got, want)
		}
	}
}
