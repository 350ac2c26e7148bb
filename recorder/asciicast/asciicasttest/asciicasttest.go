// Package asciicasttest helps tests write and check asciicast files: a
// manual clock for a Writer, a whole-cast reader, and Debian's asciinema as
// the strict outside reader. It imports nothing of jumpcast but asciicast.
package asciicasttest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// RequireRealEnv is the environment variable that turns a missing real
// peer from a skip into a failure; it mirrors internal/sshtest's (this
// package imports nothing of jumpcast but asciicast).
const RequireRealEnv = "JUMPCAST_REQUIRE_REAL"

// Clock is a manual clock for asciicast.WriterOptions.Clock (or, added to a
// start time, for any clock): tests Set the elapsed time. The zero value
// reads 0. Safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	d  time.Duration
}

// Now returns the time last Set.
func (c *Clock) Now() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.d
}

// Set sets the time Now returns.
func (c *Clock) Set(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.d = d
}

// ReadAll parses a whole cast: any error fails tb.
func ReadAll(tb testing.TB, r io.Reader) (asciicast.Header, []asciicast.Event) {
	tb.Helper()
	rd, err := asciicast.NewReader(r)
	if err != nil {
		tb.Fatalf("NewReader: %v", err)
	}
	var evs []asciicast.Event
	for {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return rd.Header(), evs
		}
		if err != nil {
			tb.Fatalf("Next: %v", err)
		}
		evs = append(evs, ev)
	}
}

// Joined concatenates the data of the events with code.
func Joined(evs []asciicast.Event, code string) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.Code == code {
			b.WriteString(ev.Data)
		}
	}
	return b.String()
}

// SplitRandom cuts b into chunks at points chosen by seed, as reads
// would (sizes 0..12, so multi-byte characters are split in every
// possible place).
func SplitRandom(b []byte, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var chunks [][]byte
	for len(b) > 0 {
		n := min(rng.IntN(13), len(b))
		chunks = append(chunks, b[:n])
		b = b[n:]
	}
	return chunks
}

// RequireBinary skips tb when a binary is missing, or fails it when
// RequireRealEnv is "1".
func RequireBinary(tb testing.TB, names ...string) {
	tb.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv(RequireRealEnv) == "1" {
				tb.Fatalf("required binary %s: %v (%s=1)", n, err, RequireRealEnv)
			}
			tb.Skipf("binary %s not available: %v", n, err)
		}
	}
}

// AsciinemaCat runs Debian's `asciinema cat` on path (under script(1): it
// opens /dev/tty), requires exit 0 and returns its output with the pty's
// CR LF turned back into LF. Without asciinema and script, tb is skipped
// (see RequireBinary). A compressed or archived recording (".cast.gz",
// ".cast.zst") is given to asciinema as zcat or zstdcat prints it
// (ReadFile), written beside it.
func AsciinemaCat(tb testing.TB, path string) string {
	tb.Helper()
	RequireBinary(tb, "asciinema", "script")
	if strings.HasSuffix(path, ".gz") || strings.HasSuffix(path, ".zst") {
		plain := filepath.Join(tb.TempDir(), "plain.cast")
		if err := os.WriteFile(plain, ReadFile(tb, path), 0o600); err != nil {
			tb.Fatal(err)
		}
		path = plain
	}
	if strings.ContainsAny(path, "'\\") {
		tb.Fatalf("unquotable path %q", path)
	}
	cmd := exec.Command("script", "-qec", "asciinema cat '"+path+"'", "/dev/null")
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TERM=xterm")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start asciinema cat: %v", err)
	}
	go func() { done <- cmd.Wait() }() // owner: AsciinemaCat; ends when the child exits
	select {
	case err := <-done:
		if err != nil {
			tb.Fatalf("asciinema cat %s: %v\nstdout: %q\nstderr: %q", path, err, out.String(), errb.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		tb.Fatalf("asciinema cat %s: timed out", path)
	}
	if strings.Contains(out.String(), "Traceback") {
		tb.Fatalf("asciinema cat %s failed: %q", path, out.String())
	}
	return strings.ReplaceAll(out.String(), "\r\n", "\n")
}

// ReadFile returns the plain asciicast of the recording file at path: the
// file itself, or, for the compressed format (".cast.gz"), what zcat
// prints of it (a member cut by a crash gives what it holds), or, for the
// archived format (".cast.zst"), what Debian's zstdcat prints of it.
func ReadFile(tb testing.TB, path string) []byte {
	tb.Helper()
	if strings.HasSuffix(path, ".zst") {
		RequireBinary(tb, "zstdcat")
		out, err := exec.Command("zstdcat", path).Output()
		if err != nil {
			tb.Fatalf("zstdcat %s: %v", path, err)
		}
		return out
	}
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if !strings.HasSuffix(path, ".gz") {
		return data
	}
	z, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	out, err := io.ReadAll(z)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		tb.Fatalf("%s: %v", path, err)
	}
	return out
}
