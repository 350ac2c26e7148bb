// Package leakcheck lists, for goleak in tests' TestMain, the goroutines
// that are the process's by design and so no leak: the recorder's one
// background keyframe indexer (and its emulator's drain), which may still
// be at work on the last recordings a test closed. Only tests import it.
package leakcheck

import "go.uber.org/goleak"

// Background returns goleak options that ignore the process-wide
// background goroutines.
func Background() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/jumpcast/jumpcast/recorder.(*keyframer).run"),
		goleak.IgnoreAnyFunction("github.com/jumpcast/jumpcast/recorder/castfile.NewScreen.func4"),
	}
}
