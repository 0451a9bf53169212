package herald

import "testing"

func TestTokenID(t *testing.T) {
	hash := HashToken("hrld_example")
	for name, tc := range map[string]struct{ hash, want string }{
		"a hash":     {hash, hash[:12]},
		"too short":  {"abc", "abc"},
		"just right": {"0123456789ab", "0123456789ab"},
	} {
		if got := TokenID(tc.hash); got != tc.want {
			t.Errorf("%s: got %q, want %q", name, got, tc.want)
		}
	}
	if len(hash) != 64 {
		t.Errorf("HashToken: got %d hex digits, want 64", len(hash))
	}
}
