package herald

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// crockford is the ULID alphabet: Crockford's base32, sortable as text.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns a ULID: 48 bits of milliseconds then 80 random bits, 26
// characters that sort by time. Calls and webhooks use them, so listing
// newest first is a key order.
func NewID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:]) // crypto/rand never fails on Linux
	return encodeULID(b)
}

func encodeULID(b [16]byte) string {
	// 128 bits as 26 base32 digits, the first holding the top 3 bits.
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// IDTime returns the time encoded in a ULID, and false for anything that is
// not one.
func IDTime(id string) (time.Time, bool) {
	if len(id) != 26 {
		return time.Time{}, false
	}
	var ms uint64
	for i := 0; i < 10; i++ {
		d := indexCrockford(id[i])
		if d < 0 {
			return time.Time{}, false
		}
		ms = ms<<5 | uint64(d)
	}
	for i := 10; i < 26; i++ {
		if indexCrockford(id[i]) < 0 {
			return time.Time{}, false
		}
	}
	return time.UnixMilli(int64(ms)).UTC(), true
}

// CrockfordValue is the value of one ULID digit, 0 to 31; -1 for a
// character that is not one.
func CrockfordValue(c byte) int { return indexCrockford(c) }

func indexCrockford(c byte) int {
	for i := 0; i < len(crockford); i++ {
		if crockford[i] == c {
			return i
		}
	}
	return -1
}
