package herald

import (
	"crypto/rand"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// NewID returns a ULID: 48 bits of milliseconds then 80 random bits, 26
// characters of Crockford's base32 that sort by time. Calls and webhooks
// use them, so listing newest first is a key order.
func NewID(now time.Time) string {
	var id ulid.ULID
	_ = id.SetTime(ulid.Timestamp(now)) // fails only after the year 10889
	_, _ = rand.Read(id[6:])            // crypto/rand never fails
	return id.String()
}

// IDTime returns the time encoded in a ULID, and false for anything that is
// not one as Herald writes them (upper case).
func IDTime(id string) (time.Time, bool) {
	u, err := ulid.ParseStrict(id)
	if err != nil || strings.ToUpper(id) != id {
		return time.Time{}, false
	}
	return ulid.Time(u.Time()).UTC(), true
}

// CrockfordValue is the value of one ULID digit, 0 to 31; -1 for a
// character that is not one.
func CrockfordValue(c byte) int { return strings.IndexByte(ulid.Encoding, c) }
