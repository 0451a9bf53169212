// Package config reads a function's settings from its environment, once per
// cold start, and builds the AWS SDK configuration from the SDK's standard
// settings, so the same binary runs against AWS and against the local stack
// (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS).
package config

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/heraldhq/herald/shared/herald"
)

// Settings are what the template's Environment.Variables give every function.
type Settings struct {
	TableName           string
	QueueURL            string // retries and resends
	FirstQueueURL       string // first attempts (FIFO)
	LogLevel            slog.Level
	Stage               string
	Retention           time.Duration
	AllowPrivateTargets bool
	// AutoDisableAfter is how long every attempt of a webhook must fail
	// before Herald disables it; 0 never does (AUTO_DISABLE_AFTER_HOURS).
	AutoDisableAfter time.Duration
}

// MaxAutoDisableAfterHours bounds AUTO_DISABLE_AFTER_HOURS (template.yaml's
// AutoDisableAfterHours has the same bound): a year.
const MaxAutoDisableAfterHours = 8760

// FromEnv reads Settings from environment variables, through getenv.
func FromEnv(getenv func(string) string) (Settings, error) {
	s := Settings{
		TableName:        getenv("TABLE_NAME"),
		QueueURL:         getenv("DELIVERY_QUEUE_URL"),
		FirstQueueURL:    getenv("FIRST_ATTEMPT_QUEUE_URL"),
		Stage:            getenv("HERALD_STAGE"),
		Retention:        30 * 24 * time.Hour,
		AutoDisableAfter: herald.DefaultAutoDisableAfter,
	}
	if s.TableName == "" {
		return s, fmt.Errorf("TABLE_NAME is not set")
	}
	if s.QueueURL == "" {
		return s, fmt.Errorf("DELIVERY_QUEUE_URL is not set")
	}
	if s.FirstQueueURL == "" {
		return s, fmt.Errorf("FIRST_ATTEMPT_QUEUE_URL is not set")
	}
	if err := s.LogLevel.UnmarshalText([]byte(orDefault(getenv("LOG_LEVEL"), "info"))); err != nil {
		return s, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	if v := getenv("CALL_RETENTION_DAYS"); v != "" {
		days, err := strconv.Atoi(v)
		if err != nil || days < herald.MinRetentionDays || days > herald.MaxRetentionDays {
			// Shorter than the retry schedule, TTL would delete calls whose
			// retries are still waiting (template.yaml has the same bounds).
			return s, fmt.Errorf("CALL_RETENTION_DAYS must be a whole number of days from %d (the retry schedule, 3.3 days, and a margin) to %d, not %q",
				herald.MinRetentionDays, herald.MaxRetentionDays, v)
		}
		s.Retention = time.Duration(days) * 24 * time.Hour
	}
	if v := getenv("AUTO_DISABLE_AFTER_HOURS"); v != "" {
		// Hours, with a fraction so that the local stack can use seconds
		// (docs/endpoint-health.md: 0.01 is 36 seconds).
		hours, err := strconv.ParseFloat(v, 64)
		if err != nil || !(hours >= 0 && hours <= MaxAutoDisableAfterHours) { // NaN fails both
			return s, fmt.Errorf("AUTO_DISABLE_AFTER_HOURS must be a number of hours from 0 (never) to %d, not %q", MaxAutoDisableAfterHours, v)
		}
		s.AutoDisableAfter = time.Duration(hours * float64(time.Hour)).Round(time.Second)
	}
	switch strings.ToLower(getenv("ALLOW_PRIVATE_TARGETS")) {
	case "", "false", "0":
	case "true", "1":
		s.AllowPrivateTargets = true
	default:
		return s, fmt.Errorf("ALLOW_PRIVATE_TARGETS must be true or false")
	}
	return s, nil
}

// AWS loads the SDK configuration: region, credentials and per-service
// endpoints from the standard environment variables and files.
func AWS(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return cfg, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// Logger returns the JSON logger every function writes with.
func Logger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Load reads a function's settings from its environment and its AWS
// configuration. A function that cannot read them can serve nothing: its
// main ends init with the error, and Lambda reports the failed init.
func Load(ctx context.Context) (Settings, aws.Config, error) {
	settings, err := FromEnv(os.Getenv)
	if err != nil {
		return Settings{}, aws.Config{}, err
	}
	awsCfg, err := AWS(ctx)
	if err != nil {
		return Settings{}, aws.Config{}, err
	}
	return settings, awsCfg, nil
}
