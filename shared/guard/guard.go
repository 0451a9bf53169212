// Package guard keeps a panic in one goroutine from ending the process.
//
// A panic that escapes a goroutine kills the whole program, and
// errgroup.Group does not recover them. In a Lambda function that is an
// instance lost (and, for the API, every request in flight on it with it),
// so every goroutine Herald starts while serving a request runs its work
// through Func, which turns a panic into an error the caller reports like any
// other internal failure.
package guard

import (
	"fmt"
	"runtime/debug"
)

// PanicError is a recovered panic: its value and the stack where it
// happened, for the log. Its message never reaches a client.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Func returns f wrapped so that a panic in it is returned as a
// *PanicError instead of unwinding its goroutine.
func Func(f func() error) func() error {
	return func() (err error) {
		defer Recover(&err)
		return f()
	}
}

// Recover, deferred, turns a panic into *err. Use it directly where a
// goroutine is started without Func: `defer guard.Recover(&err)`.
func Recover(err *error) {
	if r := recover(); r != nil {
		*err = &PanicError{Value: r, Stack: debug.Stack()}
	}
}
