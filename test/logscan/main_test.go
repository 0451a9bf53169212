package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/shared/herald"
	"github.com/heraldhq/herald/shared/signing"
	"github.com/heraldhq/herald/test/testenv"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRun(t *testing.T) {
	const password = "correct-horse-battery"
	clean := `{"level":"INFO","msg":"request","route":"/webhooks","status":201}` + "\n"
	tests := map[string]struct {
		logs    map[string]string
		secrets string
		wantErr string // "" for a clean pass
	}{
		"clean":              {map[string]string{"a.log": clean, "sub/b.log": clean}, password + "\n", ""},
		"registered secret":  {map[string]string{"a.log": clean, "b.log": clean + `{"msg":"basic ` + password + `"}` + "\n"}, password + "\n", "1 secrets found"},
		"unregistered token": {map[string]string{"a.log": "Authorization: Bearer " + herald.NewToken() + "\n"}, password + "\n", "1 secrets found"},
		"signing secret":     {map[string]string{"go-test.out": "secret=" + signing.NewSecret() + "\n"}, password + "\n", "1 secrets found"},
		"no secrets":         {map[string]string{"a.log": clean}, "", "nothing to check"},
		"no logs":            {nil, password + "\n", "nothing to check"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, testenv.SecretsFile), tc.secrets)
			for p, text := range tc.logs {
				writeFile(t, filepath.Join(dir, p), text)
			}
			var out strings.Builder
			err := run(dir, &out)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("run: %v\n%s", err, out.String())
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("run: %v, want an error with %q", err, tc.wantErr)
			}
			if strings.Contains(out.String(), password) {
				t.Errorf("the report repeats the secret it found:\n%s", out.String())
			}
			if tc.wantErr == "1 secrets found" && !strings.Contains(out.String(), ".log:") && !strings.Contains(out.String(), ".out:") {
				t.Errorf("the report does not say where:\n%s", out.String())
			}
		})
	}
}

func TestMissingSecretsFile(t *testing.T) {
	if err := run(t.TempDir(), &strings.Builder{}); err == nil {
		t.Fatal("run over a directory without a secrets file passed")
	}
}
