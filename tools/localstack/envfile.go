package localstack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
)

// EnvFile is an environment file in SAM's --env-vars format: "Parameters"
// holds variables for every function, and a function's logical id holds its
// own, which win. `sam local invoke --env-vars events/env.json` and the local
// stack read the same file.
type EnvFile map[string]map[string]string

// allFunctions is the env file section that applies to every function.
const allFunctions = "Parameters"

// LoadEnvFile reads an env file. Values may be strings, numbers or booleans,
// as SAM accepts.
func LoadEnvFile(path string) (EnvFile, error) {
	data, err := os.ReadFile(path) // #nosec G304 -- reading the file the developer names is the point
	if err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	var raw map[string]map[string]any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber() // so that 30 stays "30"
	if err := d.Decode(&raw); err != nil {
		return nil, fmt.Errorf("env file %s: %w", path, err)
	}
	f := EnvFile{}
	for section, vars := range raw {
		f[section] = map[string]string{}
		for name, v := range vars {
			s, err := scalarString(v)
			if err != nil {
				return nil, fmt.Errorf("env file %s: %s.%s: %w", path, section, name, err)
			}
			f[section][name] = s
		}
	}
	return f, nil
}

// For returns the variables a function gets from the file.
func (f EnvFile) For(function string) map[string]string {
	env := map[string]string{}
	maps.Copy(env, f[allFunctions])
	maps.Copy(env, f[function])
	return env
}

// DevEnvPath is where `make dev` writes the addresses of its stack, and the
// token to use, as KEY=value lines a shell can source.
func DevEnvPath(root string) string { return filepath.Join(root, ".herald", "dev.env") }

// ReadDevEnv reads the KEY=value lines of a dev.env.
func ReadDevEnv(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path) // #nosec G304 -- the state file `make dev` wrote, or one the operator names
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	env := map[string]string{}
	for line := range strings.Lines(string(raw)) {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return env, nil
}
