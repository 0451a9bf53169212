// Package deploy is about the stack as deployed on AWS, where
// tools/localstack is about the local one: the template variants CI checks
// with options switched on (sam validate, checkov and sam build read a
// template's parameter defaults, so a variant is template.yaml with other
// defaults), the outputs of a deployed stack the ops tools read, and the
// tests of what each template option deploys.
package deploy
