//go:build faults

package faulttest

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/jumpcast/jumpcast/internal/leakcheck"
)

// TestMain runs the stream generator when asked to (see genEnv), and
// otherwise the tests, then checks that none left a goroutine behind.
func TestMain(m *testing.M) {
	if spec := os.Getenv(genEnv); spec != "" {
		os.Exit(runGenerator(spec))
	}
	goleak.VerifyTestMain(m, leakcheck.Background()...)
}
