package recorder

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// childEnv makes the test binary act as a child process (see
// child_test.go) instead of running tests.
const childEnv = "JUMPCAST_RECORDER_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	// The process's keyframe indexer may still be at work on the last
	// recordings closed: it is process-wide by design (keyframes.go).
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/jumpcast/jumpcast/recorder.(*keyframer).run"),
		goleak.IgnoreAnyFunction("github.com/jumpcast/jumpcast/recorder/castfile.NewScreen.func4"))
}
