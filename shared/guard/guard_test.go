package guard_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/heraldhq/herald/shared/guard"
)

func TestFuncTurnsAPanicIntoAnError(t *testing.T) {
	var g errgroup.Group
	g.Go(guard.Func(func() error {
		var s []int
		_ = s[3] // index out of range: a runtime panic
		return nil
	}))
	err := g.Wait()
	var pe *guard.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Wait = %v; want a *guard.PanicError", err)
	}
	if !strings.Contains(err.Error(), "index out of range") || len(pe.Stack) == 0 {
		t.Errorf("error %q, stack %d bytes", err, len(pe.Stack))
	}
}

func TestFuncPassesErrorsThrough(t *testing.T) {
	want := errors.New("plain")
	if got := guard.Func(func() error { return want })(); got != want {
		t.Errorf("got %v; want %v", got, want)
	}
	if got := guard.Func(func() error { return nil })(); got != nil {
		t.Errorf("got %v; want nil", got)
	}
}
