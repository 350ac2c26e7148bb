package recorder

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/jumpcast/jumpcast/internal/leakcheck"
)

// childEnv makes the test binary act as a child process (see
// child_test.go) instead of running tests.
const childEnv = "JUMPCAST_RECORDER_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	goleak.VerifyTestMain(m, leakcheck.Background()...)
}
