package signing

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names of a signed call.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret, so that people and scanners can tell a
// Standard Webhooks secret at a glance.
const SecretPrefix = "whsec_"

// Key sizes ParseSecret accepts, and the size NewSecret makes.
const (
	MinKeyBytes = 24
	MaxKeyBytes = 64
	NewKeyBytes = 32
)

const version = "v1"

// Errors of ParseSecret and Verify. They are wrapped with detail; test them
// with errors.Is.
var (
	ErrInvalidSecret    = errors.New("invalid signing secret")
	ErrMissingHeader    = errors.New("missing webhook header")
	ErrInvalidTimestamp = errors.New("invalid webhook-timestamp")
	ErrTimestampRange   = errors.New("webhook-timestamp outside the tolerance")
	ErrNoValidSignature = errors.New("no valid signature")
)

// NewSecret returns a new random secret: "whsec_" and the standard base64 of
// 32 bytes from crypto/rand.
func NewSecret() string {
	key := make([]byte, NewKeyBytes)
	// crypto/rand.Read never fails: it crashes the program if the system's
	// random source is unusable, rather than hand out a weak key.
	_, _ = rand.Read(key)
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// ParseSecret returns the key of a "whsec_<base64>" secret, or an error
// wrapping ErrInvalidSecret that says what is wrong. The error never contains
// the secret.
func ParseSecret(s string) ([]byte, error) {
	encoded, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: must start with %q", ErrInvalidSecret, SecretPrefix)
	}
	// The decoder skips CR and LF; a secret must not carry them.
	if strings.ContainsAny(encoded, "\r\n") {
		return nil, fmt.Errorf("%w: contains a line break", ErrInvalidSecret)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: not standard base64 after %q", ErrInvalidSecret, SecretPrefix)
	}
	if len(key) < MinKeyBytes || len(key) > MaxKeyBytes {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d to %d", ErrInvalidSecret, len(key), MinKeyBytes, MaxKeyBytes)
	}
	return key, nil
}

// Sign returns the v1 signature of one call attempt: "v1," and the base64
// HMAC-SHA256, under key, of "msgID.unixSeconds.body". msgID must not
// contain '.', which would make the signed content ambiguous; Herald's ids
// are ULIDs.
func Sign(key []byte, msgID string, ts time.Time, body []byte) string {
	return version + "," + base64.StdEncoding.EncodeToString(mac(key, msgID, ts.Unix(), body))
}

// SignatureHeader returns the webhook-signature value for an attempt signed
// with each key, space-separated, in the order given (current key first).
func SignatureHeader(keys [][]byte, msgID string, ts time.Time, body []byte) string {
	sigs := make([]string, len(keys))
	for i, k := range keys {
		sigs[i] = Sign(k, msgID, ts, body)
	}
	return strings.Join(sigs, " ")
}

// Verify checks a call the way a receiver does: the timestamp must be within
// tolerance of now, and one of the v1 signatures in sigHeader must be the
// secret's signature of msgID, the timestamp and body. Signatures of other
// versions are skipped. Comparison is constant-time.
func Verify(secret, msgID, tsHeader, sigHeader string, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := ParseSecret(secret)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	switch {
	case msgID == "":
		return fmt.Errorf("verify: %w: %s", ErrMissingHeader, HeaderID)
	case tsHeader == "":
		return fmt.Errorf("verify: %w: %s", ErrMissingHeader, HeaderTimestamp)
	case sigHeader == "":
		return fmt.Errorf("verify: %w: %s", ErrMissingHeader, HeaderSignature)
	}
	unix, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return fmt.Errorf("verify: %w: %q is not unix seconds", ErrInvalidTimestamp, tsHeader)
	}
	// Sub saturates, so a far-off timestamp cannot wrap around into range.
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("verify: %w: %s off, tolerance %s", ErrTimestampRange, d.Abs(), tolerance)
	}
	want := mac(key, msgID, unix, body)
	for _, sig := range strings.Fields(sigHeader) {
		v, encoded, ok := strings.Cut(sig, ",")
		if !ok || v != version {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("verify: %w", ErrNoValidSignature)
}

func mac(key []byte, msgID string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msgID))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, unix, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}
