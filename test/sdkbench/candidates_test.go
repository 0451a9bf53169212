package sdkbench_test

import (
	"context"
	"net/url"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
	"github.com/aws/smithy-go/middleware"
)

// candidates are the settings weighed for shared/config, each alone on top
// of the default, so that a benchmark gives each its share. Run them with
// HERALD_SDKBENCH_CANDIDATES=1; shared/config's verdict on each is in its
// comments.
var candidates = []setup{
	{name: "ratelimit-none", config: untuned,
		dynamo: []func(*dynamodb.Options){func(o *dynamodb.Options) {
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 4; so.RateLimiter = ratelimit.None })
		}},
		sqs: []func(*sqs.Options){func(o *sqs.Options) {
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.RateLimiter = ratelimit.None })
		}}},
	{name: "no-useragent", config: withAPIOptions(removeStep("UserAgent"))},
	{name: "no-invocationid", config: withAPIOptions(removeStep("ClientRequestID"))},
	{name: "no-recursiondetection", config: withAPIOptions(removeStep("RecursionDetection"))},
	{name: "no-checksums", config: untuned,
		dynamo: []func(*dynamodb.Options){func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true }},
		sqs:    []func(*sqs.Options){func(o *sqs.Options) { o.DisableMessageChecksumValidation = true }}},
	{name: "accountid-disabled", config: func(ctx context.Context) (aws.Config, error) {
		cfg, err := untuned(ctx)
		cfg.AccountIDEndpointMode = aws.AccountIDEndpointModeDisabled
		return cfg, err
	}},
	{name: "static-endpoint", config: untuned,
		dynamo: []func(*dynamodb.Options){func(o *dynamodb.Options) {
			o.EndpointResolverV2 = staticEndpoint[dynamodb.EndpointParameters](os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"))
		}},
		sqs: []func(*sqs.Options){func(o *sqs.Options) {
			o.EndpointResolverV2 = staticEndpoint[sqs.EndpointParameters](os.Getenv("AWS_ENDPOINT_URL_SQS"))
		}}},
	{name: "all-trims", config: func(ctx context.Context) (aws.Config, error) {
		cfg, err := withAPIOptions(removeStep("UserAgent"), removeStep("ClientRequestID"), removeStep("RecursionDetection"),
			removeStep("DiscoverEndpoint"), removeStep("disableHTTPS"), removeStep("RequestResponseLogger"))(ctx)
		cfg.AccountIDEndpointMode = aws.AccountIDEndpointModeDisabled
		return cfg, err
	},
		dynamo: []func(*dynamodb.Options){func(o *dynamodb.Options) {
			o.DisableValidateResponseChecksum = true
			o.EndpointResolverV2 = staticEndpoint[dynamodb.EndpointParameters](os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"))
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 4; so.RateLimiter = ratelimit.None })
		}},
		sqs: []func(*sqs.Options){func(o *sqs.Options) {
			o.DisableMessageChecksumValidation = true
			o.EndpointResolverV2 = staticEndpoint[sqs.EndpointParameters](os.Getenv("AWS_ENDPOINT_URL_SQS"))
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.RateLimiter = ratelimit.None })
		}}},
}

func init() {
	if os.Getenv("HERALD_SDKBENCH_CANDIDATES") != "" {
		setups = append(setups, candidates...)
	}
}

func withAPIOptions(fns ...func(*middleware.Stack) error) func(context.Context) (aws.Config, error) {
	return func(ctx context.Context) (aws.Config, error) {
		cfg, err := untuned(ctx)
		cfg.APIOptions = append(cfg.APIOptions, fns...)
		return cfg, err
	}
}

// removeStep removes a middleware by its ID from whichever step holds it.
// A step a service's stack does not have is no error: SQS has no
// DiscoverEndpoint.
func removeStep(id string) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		_, _ = s.Build.Remove(id)
		_, _ = s.Finalize.Remove(id)
		_, _ = s.Deserialize.Remove(id)
		_, _ = s.Serialize.Remove(id)
		return nil
	}
}

// staticEndpoint resolves every call to one URL, as a resolver that skips
// the rules would; it is the most skipping the rules could save.
type staticEndpoint[P any] string

func (s staticEndpoint[P]) ResolveEndpoint(context.Context, P) (smithyendpoints.Endpoint, error) {
	u, err := urlParse(string(s))
	if err != nil {
		return smithyendpoints.Endpoint{}, err
	}
	return smithyendpoints.Endpoint{URI: *u}, nil
}

var urlParse = url.Parse
