package deploy

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
)

// DescribeStacksAPI is the part of CloudFormation the ops tools use.
type DescribeStacksAPI interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, opts ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

var _ DescribeStacksAPI = (*cloudformation.Client)(nil)

// StackOutputs reads the named outputs of a deployed stack; each must be
// there.
func StackOutputs(ctx context.Context, cf DescribeStacksAPI, stack string, keys ...string) (map[string]string, error) {
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		return nil, fmt.Errorf("describe stack %s: %w", stack, err)
	}
	if len(out.Stacks) != 1 {
		return nil, fmt.Errorf("describe stack %s: %d stacks answered", stack, len(out.Stacks))
	}
	all := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		all[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	got := make(map[string]string, len(keys))
	for _, k := range keys {
		v, ok := all[k]
		if !ok || v == "" {
			return nil, fmt.Errorf("stack %s has no %s output; is it a Herald stack of this version?", stack, k)
		}
		got[k] = v
	}
	return got, nil
}
