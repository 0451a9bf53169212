package localstack

import (
	"encoding/json"
	"fmt"
	"os"
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
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("env file %s: %w", path, err)
	}
	f := EnvFile{}
	for section, vars := range raw {
		f[section] = map[string]string{}
		for name, v := range vars {
			s, err := scalarString(jsonScalar(v))
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
	for k, v := range f[allFunctions] {
		env[k] = v
	}
	for k, v := range f[function] {
		env[k] = v
	}
	return env
}

// jsonScalar turns JSON's float64 into an int when it is one, so that 30
// stays "30".
func jsonScalar(v any) any {
	if f, ok := v.(float64); ok && f == float64(int64(f)) {
		return int64(f)
	}
	return v
}
