package herald

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// TokenPrefix marks Herald API tokens, so that secret scanners and people can
// tell them apart.
const TokenPrefix = "hrld_"

// NewToken returns a fresh API token. Only its hash is ever stored.
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on Linux
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashToken is the stored form of a token: hex SHA-256. Tokens carry 256
// random bits, so a fast hash is enough; no salt is needed to resist guessing.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// WellFormedToken reports whether s could be a token at all, so that garbage
// is refused without a database read.
func WellFormedToken(s string) bool {
	if !strings.HasPrefix(s, TokenPrefix) || len(s) != len(TokenPrefix)+43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s[len(TokenPrefix):])
	return err == nil
}

// TokenIDLength is how many hex digits of a token's hash name it in token
// lists and revocations. 48 bits tell thousands of tokens apart, and
// showing them gives nothing away: the hash is one-way and the token holds
// 256 random bits.
const TokenIDLength = 12

// TokenID is the short name of a token, made from its hash: the first
// TokenIDLength hex digits.
func TokenID(hash string) string {
	if len(hash) < TokenIDLength {
		return hash
	}
	return hash[:TokenIDLength]
}
