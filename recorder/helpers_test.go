package recorder

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// requireRealEnv mirrors internal/sshtest.RequireRealEnv (recorder imports
// nothing of ours but leaf packages, not even in tests).
const requireRealEnv = "JUMPCAST_REQUIRE_REAL"

// childEnv makes the test binary act as a child process (see
// child_test.go) instead of running tests.
const childEnv = "JUMPCAST_RECORDER_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	goleak.VerifyTestMain(m)
}

// requireBinary skips t when a binary is missing, or fails it when
// JUMPCAST_REQUIRE_REAL=1.
func requireBinary(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv(requireRealEnv) == "1" {
				t.Fatalf("required binary %s: %v (%s=1)", n, err, requireRealEnv)
			}
			t.Skipf("binary %s not available: %v", n, err)
		}
	}
}

// asciinemaCat runs Debian's `asciinema cat` on path (under script(1): it
// opens /dev/tty), requires exit 0 and returns its output with the pty's
// CR LF turned back into LF.
func asciinemaCat(t testing.TB, path string) string {
	t.Helper()
	requireBinary(t, "asciinema", "script")
	if strings.ContainsAny(path, "'\\") {
		t.Fatalf("unquotable path %q", path)
	}
	cmd := exec.Command("script", "-qec", "asciinema cat '"+path+"'", "/dev/null")
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TERM=xterm")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start asciinema cat: %v", err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("asciinema cat %s: %v\nstdout: %q\nstderr: %q", path, err, out.String(), errb.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("asciinema cat %s: timed out", path)
	}
	if strings.Contains(out.String(), "Traceback") {
		t.Fatalf("asciinema cat %s failed: %q", path, out.String())
	}
	return strings.ReplaceAll(out.String(), "\r\n", "\n")
}

// fakeClock is a manual clock for Writers: tests set the elapsed time.
type fakeClock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *fakeClock) now() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.d
}

func (c *fakeClock) set(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.d = d
}

// readAll parses a whole cast.
func readAll(t testing.TB, r io.Reader) (Header, []Event) {
	t.Helper()
	rd, err := NewReader(r)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var evs []Event
	for {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return rd.Header(), evs
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		evs = append(evs, ev)
	}
}

// joined concatenates the data of events with code.
func joined(evs []Event, code string) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.Code == code {
			b.WriteString(ev.Data)
		}
	}
	return b.String()
}
