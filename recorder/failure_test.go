package recorder

import (
	"errors"
	"testing"
)

// TestFailure: the first error wins and stays; the function is told once,
// and a function set after the failure is told at once.
func TestFailure(t *testing.T) {
	var f failure
	var told []error
	f.report() // nothing to report, nobody to tell
	f.setNotify(func(err error) { told = append(told, err) })
	if f.get() != nil || len(told) != 0 {
		t.Fatalf("before any failure: %v, told %v", f.get(), told)
	}
	first, second := errors.New("disk full"), errors.New("closed")
	if got, isFirst := f.keep(first); got != first || !isFirst {
		t.Errorf("keep(first) = %v, %v", got, isFirst)
	}
	if got, isFirst := f.keep(second); got != first || isFirst {
		t.Errorf("keep(second) = %v, %v; want the first error to stay", got, isFirst)
	}
	f.report()
	f.report()
	if len(told) != 1 || told[0] != first {
		t.Errorf("told %v, want the first error once", told)
	}
	var late error
	f.setNotify(func(err error) { late = err })
	if late != first {
		t.Errorf("a function set after the failure was told %v", late)
	}
	f.report()
	if len(told) != 1 {
		t.Errorf("the replaced function was told again: %v", told)
	}
}
