package asciicast_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind (a Writer's flush
// timer, asciinema's waiter).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
