package recorder

import "sync"

// failure is a recording's first error and the function told about it.
// The first error wins and stays; the function is called at most once per
// setNotify, outside the lock. Safe for concurrent use; the zero value has
// no failure and no function.
type failure struct {
	mu       sync.Mutex // guards the fields below
	err      error      // the first failure, or nil
	notify   func(error)
	notified bool // notify has been called with err
}

// get returns the failure, or nil.
func (f *failure) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// keep makes err (not nil) the failure unless there is one already. It
// returns the failure and whether err became it.
func (f *failure) keep(err error) (failure error, first bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err, first = err, true
	}
	return f.err, first
}

// report calls the notify function with the failure, unless there is no
// failure, no function, or it has been called already.
func (f *failure) report() {
	f.mu.Lock()
	fn, err := f.notify, f.err
	call := fn != nil && err != nil && !f.notified
	if call {
		f.notified = true
	}
	f.mu.Unlock()
	if call {
		fn(err)
	}
}

// setNotify replaces the notify function with fn and, when there is a
// failure already, calls fn with it at once, on the caller's goroutine.
func (f *failure) setNotify(fn func(error)) {
	f.mu.Lock()
	f.notify = fn
	err := f.err
	call := err != nil && fn != nil
	f.notified = call
	f.mu.Unlock()
	if call {
		fn(err)
	}
}
