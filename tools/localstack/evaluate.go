package localstack

import (
	"fmt"
	"slices"
)

// Deployed is a template as CloudFormation would deploy it with some
// parameter values: conditions decided, the resources and outputs whose
// condition is false left out, every intrinsic function evaluated. A
// reference to a resource becomes a placeholder naming it ("<DeliveryQueue>",
// "<DeliveryQueue.Arn>"), except references to functions, which resolve as
// in the local stack: to the logical id and a Lambda ARN named after it.
type Deployed struct {
	Parameters map[string]string
	Conditions map[string]bool
	Globals    map[string]any      // Globals.Function
	Resources  map[string]Resource // without their Condition
	Outputs    map[string]any      // each output's value
}

// evaluationRegion and evaluationAccount are the pseudo parameters Evaluate
// uses.
const (
	evaluationRegion  = "us-east-1"
	evaluationAccount = "123456789012"
)

// Evaluate resolves the template for the given parameter values; the other
// parameters take their defaults. It lets tests check what each option
// deploys without AWS: a value must be one of the parameter's
// AllowedValues, when it has some.
func (t *Template) Evaluate(params map[string]string) (*Deployed, error) {
	r, err := newResolver(t, evaluationRegion, evaluationAccount, "herald")
	if err != nil {
		return nil, err
	}
	r.symbolic = true
	for name, v := range params {
		p, ok := t.Parameters[name]
		if !ok {
			return nil, fmt.Errorf("the template has no parameter %s", name)
		}
		if len(p.AllowedValues) > 0 && !slices.ContainsFunc(p.AllowedValues, func(a any) bool {
			s, err := scalarString(a)
			return err == nil && s == v
		}) {
			return nil, fmt.Errorf("parameter %s: %q is not one of %v", name, v, p.AllowedValues)
		}
		r.params[name] = v
	}
	d := &Deployed{
		Parameters: r.params,
		Conditions: map[string]bool{},
		Resources:  map[string]Resource{},
		Outputs:    map[string]any{},
	}
	for name := range t.Conditions {
		if d.Conditions[name], err = r.condition(name); err != nil {
			return nil, err
		}
	}
	globals, err := r.resolve(t.Globals.Function)
	if err != nil {
		return nil, fmt.Errorf("Globals.Function: %w", err)
	}
	d.Globals, _ = globals.(map[string]any)
	for id, res := range t.Resources {
		if res.Condition != "" && !d.Conditions[res.Condition] {
			continue
		}
		props, err := r.resolve(res.Properties)
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", id, err)
		}
		m, _ := props.(map[string]any)
		d.Resources[id] = Resource{Type: res.Type, Properties: m}
	}
	for name, out := range t.Outputs {
		if out.Condition != "" && !d.Conditions[out.Condition] {
			continue
		}
		if d.Outputs[name], err = r.resolve(out.Value); err != nil {
			return nil, fmt.Errorf("output %s: %w", name, err)
		}
	}
	return d, nil
}

// OfType returns the logical ids of the deployed resources of a type,
// sorted.
func (d *Deployed) OfType(resourceType string) []string {
	return logicalIDs(d.Resources, resourceType)
}
