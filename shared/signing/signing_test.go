package signing_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/shared/signing"
)

type vector struct {
	Name      string   `json:"name"`
	Source    string   `json:"source"`
	Secrets   []string `json:"secrets"`
	MsgID     string   `json:"msg_id"`
	Timestamp int64    `json:"timestamp"`
	Payload   string   `json:"payload"`
	Signature string   `json:"signature"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("testdata/vectors.json: %v", err)
	}
	if len(file.Vectors) == 0 {
		t.Fatal("testdata/vectors.json has no vectors")
	}
	return file.Vectors
}

func parseKeys(t *testing.T, secrets []string) [][]byte {
	t.Helper()
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		k, err := signing.ParseSecret(s)
		if err != nil {
			t.Fatalf("ParseSecret(secret %d): %v", i, err)
		}
		keys[i] = k
	}
	return keys
}

// TestVectorsSign checks that signing reproduces each vector's header,
// signature by signature.
func TestVectorsSign(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			keys := parseKeys(t, v.Secrets)
			ts := time.Unix(v.Timestamp, 0)
			body := []byte(v.Payload)

			if got := signing.SignatureHeader(keys, v.MsgID, ts, body); got != v.Signature {
				t.Errorf("SignatureHeader = %q, want %q", got, v.Signature)
			}
			want := strings.Fields(v.Signature)
			for i, k := range keys {
				if got := signing.Sign(k, v.MsgID, ts, body); got != want[i] {
					t.Errorf("Sign(key %d) = %q, want %q", i, got, want[i])
				}
			}
		})
	}
}

// TestVectorsVerify checks the other way: each vector's header verifies with
// each of its secrets, and fails once anything signed is changed.
func TestVectorsVerify(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			ts := strconv.FormatInt(v.Timestamp, 10)
			now := time.Unix(v.Timestamp, 0).Add(30 * time.Second)
			body := []byte(v.Payload)
			for i, secret := range v.Secrets {
				if err := signing.Verify(secret, v.MsgID, ts, v.Signature, body, now, 5*time.Minute); err != nil {
					t.Errorf("Verify(secret %d) = %v, want nil", i, err)
				}
			}

			secret := v.Secrets[0]
			otherTS := strconv.FormatInt(v.Timestamp+1, 10)
			tampered := map[string]struct {
				msgID, ts string
				body      []byte
			}{
				"body":      {v.MsgID, ts, append(bytes.Clone(body), ' ')},
				"msg id":    {v.MsgID + "x", ts, body},
				"timestamp": {v.MsgID, otherTS, body},
			}
			for name, tc := range tampered {
				err := signing.Verify(secret, tc.msgID, tc.ts, v.Signature, tc.body, now, 5*time.Minute)
				if !errors.Is(err, signing.ErrNoValidSignature) {
					t.Errorf("Verify with changed %s = %v, want ErrNoValidSignature", name, err)
				}
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	a, b := signing.NewSecret(), signing.NewSecret()
	if a == b {
		t.Fatalf("two NewSecret calls returned the same secret %q", a)
	}
	for _, s := range []string{a, b} {
		if !strings.HasPrefix(s, "whsec_") {
			t.Errorf("NewSecret() = %q, want prefix whsec_", s)
		}
		key, err := signing.ParseSecret(s)
		if err != nil {
			t.Fatalf("ParseSecret(NewSecret()) error: %v", err)
		}
		if got, want := len(key), 32; got != want {
			t.Errorf("NewSecret key length = %d, want %d", got, want)
		}
		if got, want := s, "whsec_"+base64.StdEncoding.EncodeToString(key); got != want {
			t.Errorf("NewSecret() = %q, want standard base64 %q", got, want)
		}
	}
}

func TestParseSecret(t *testing.T) {
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xA5}, n)) }
	tests := map[string]struct {
		in      string
		wantLen int // 0: want an error
	}{
		"24 bytes":              {"whsec_" + b64(24), 24},
		"32 bytes":              {"whsec_" + b64(32), 32},
		"64 bytes":              {"whsec_" + b64(64), 64},
		"23 bytes":              {"whsec_" + b64(23), 0},
		"65 bytes":              {"whsec_" + b64(65), 0},
		"no prefix":             {b64(32), 0},
		"other prefix":          {"whsk_" + b64(32), 0},
		"upper-case prefix":     {"WHSEC_" + b64(32), 0},
		"empty":                 {"", 0},
		"prefix only":           {"whsec_", 0},
		"url-safe alphabet":     {"whsec_" + strings.NewReplacer("+", "-", "/", "_").Replace(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xFB, 0xFF}, 16))), 0},
		"missing padding":       {"whsec_" + strings.TrimRight(b64(32), "="), 0},
		"line break inside":     {"whsec_" + b64(24)[:16] + "\n" + b64(24)[16:], 0},
		"surrounding space":     {" whsec_" + b64(32), 0},
		"trailing space":        {"whsec_" + b64(32) + " ", 0},
		"non-base64 characters": {"whsec_" + strings.Repeat("!", 44), 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			key, err := signing.ParseSecret(tc.in)
			if tc.wantLen == 0 {
				if !errors.Is(err, signing.ErrInvalidSecret) {
					t.Fatalf("ParseSecret error = %v, want ErrInvalidSecret", err)
				}
				if len(tc.in) > len("whsec_") && strings.Contains(err.Error(), strings.TrimPrefix(tc.in, "whsec_")) {
					t.Errorf("error %q repeats the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSecret error = %v, want nil", err)
			}
			if got := len(key); got != tc.wantLen {
				t.Errorf("key length = %d, want %d", got, tc.wantLen)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	secret := signing.NewSecret()
	key, err := signing.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	other, err := signing.ParseSecret(signing.NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	const msgID = "01KB0Z3V8Q4N7M2R5T9W6X1Y3Z"
	sent := time.Date(2026, 11, 26, 10, 54, 9, 0, time.UTC)
	body := []byte(`{"entity_type":"item","event_type":"update"}`)
	ts := strconv.FormatInt(sent.Unix(), 10)
	good := signing.Sign(key, msgID, sent, body)
	wrong := signing.Sign(other, msgID, sent, body)
	const tolerance = 5 * time.Minute

	tests := map[string]struct {
		secret, msgID, ts, sig string
		now                    time.Time
		want                   error // nil: must verify
	}{
		"valid":                        {secret, msgID, ts, good, sent, nil},
		"valid at the tolerance edge":  {secret, msgID, ts, good, sent.Add(tolerance), nil},
		"valid, receiver clock behind": {secret, msgID, ts, good, sent.Add(-tolerance), nil},
		"valid among others":           {secret, msgID, ts, wrong + " v1a,AAAA " + good, sent, nil},
		"valid after garbage":          {secret, msgID, ts, "v1,!!! v1 " + good, sent, nil},
		"too old":                      {secret, msgID, ts, good, sent.Add(tolerance + time.Second), signing.ErrTimestampRange},
		"from the future":              {secret, msgID, ts, good, sent.Add(-tolerance - time.Second), signing.ErrTimestampRange},
		"timestamp not a number":       {secret, msgID, "2026-11-26T10:54:09Z", good, sent, signing.ErrInvalidTimestamp},
		"timestamp in milliseconds":    {secret, msgID, ts + "000", good, sent, signing.ErrTimestampRange},
		"other secret":                 {secret, msgID, ts, wrong, sent, signing.ErrNoValidSignature},
		"other version only":           {secret, msgID, ts, "v2," + strings.TrimPrefix(good, "v1,"), sent, signing.ErrNoValidSignature},
		"truncated signature":          {secret, msgID, ts, good[:len(good)-4], sent, signing.ErrNoValidSignature},
		"missing id":                   {secret, "", ts, good, sent, signing.ErrMissingHeader},
		"missing timestamp":            {secret, msgID, "", good, sent, signing.ErrMissingHeader},
		"missing signature":            {secret, msgID, ts, "", sent, signing.ErrMissingHeader},
		"blank signature":              {secret, msgID, ts, "   ", sent, signing.ErrNoValidSignature},
		"bad secret":                   {"not-a-secret", msgID, ts, good, sent, signing.ErrInvalidSecret},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := signing.Verify(tc.secret, tc.msgID, tc.ts, tc.sig, body, tc.now, tolerance)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignatureHeaderOrder(t *testing.T) {
	current, err := signing.ParseSecret(signing.NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	previous, err := signing.ParseSecret(signing.NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1795690449, 0)
	body := []byte("{}")
	got := signing.SignatureHeader([][]byte{current, previous}, "id", ts, body)
	want := signing.Sign(current, "id", ts, body) + " " + signing.Sign(previous, "id", ts, body)
	if got != want {
		t.Errorf("SignatureHeader = %q, want %q (current first)", got, want)
	}
	if got := signing.SignatureHeader(nil, "id", ts, body); got != "" {
		t.Errorf("SignatureHeader(no keys) = %q, want empty", got)
	}
}

func BenchmarkSign(b *testing.B) {
	key, err := signing.ParseSecret(signing.NewSecret())
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 4<<10)
	ts := time.Unix(1795690449, 0)
	b.ReportAllocs()
	for b.Loop() {
		signing.Sign(key, "01KB0Z3V8Q4N7M2R5T9W6X1Y3Z", ts, body)
	}
}
