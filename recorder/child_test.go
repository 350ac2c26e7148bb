//go:build unix

package recorder

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

// Child processes: the test binary re-executed with childEnv set.
const (
	childDurability = "durability" // write ticks forever, flushing every 100 ms
	childDiskFull   = "disk-full"  // a Manager session under RLIMIT_FSIZE
	childPathEnv    = "JUMPCAST_RECORDER_PATH"
	diskFullLimit   = 256 << 10
)

// extraChildren runs the child modes other files add (linux only).
var extraChildren = func(string) (bool, error) { return false, nil }

func runChild(mode string) int {
	var err error
	switch mode {
	case childDurability:
		err = childWriteForever(os.Getenv(childPathEnv))
	case childDiskFull:
		err = childFillDisk(os.Getenv(childPathEnv))
	default:
		var ok bool
		if ok, err = extraChildren(mode); !ok {
			err = fmt.Errorf("unknown child mode %q", mode)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

func childWriteForever(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	w, err := asciicast.NewWriter(f, asciicast.Header{Title: "durability"}, asciicast.WriterOptions{FlushInterval: 100 * time.Millisecond})
	if err != nil {
		return err
	}
	fmt.Println("READY")
	for i := 0; ; i++ {
		if err := w.Output(fmt.Appendf(nil, "tick %d 日本\r\n", i)); err != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// childIndex prints the final record as JSON on stdout.
type childIndex struct{}

func (childIndex) Started(context.Context, recording.Meta) error { return nil }
func (childIndex) Finished(_ context.Context, r recording.Meta) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fmt.Printf("RECORD %s\n", b)
	return nil
}

func childFillDisk(base string) error {
	lim := syscall.Rlimit{Cur: diskFullLimit, Max: diskFullLimit}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		return fmt.Errorf("setrlimit: %w", err)
	}
	d, err := OpenDir(base)
	if err != nil {
		return err
	}
	m := NewManager(ManagerOptions{Dir: d, Index: childIndex{}})
	s, err := m.Start(context.Background(), shellInfo())
	if err != nil {
		return err
	}
	// Text that does not compress much (hex of random bytes), so that the
	// compressed file reaches the limit too.
	chunk := make([]byte, 4096)
	failedAt := -1
	for i := range 1000 {
		for j := range chunk {
			chunk[j] = "0123456789abcdef"[rand.IntN(16)]
		}
		if err := s.Output(chunk); err != nil {
			failedAt = i
			fmt.Printf("OUTPUT-ERROR %d %s\n", i, err)
			break
		}
	}
	if failedAt < 0 {
		return fmt.Errorf("no write error after %d bytes", 1000*len(chunk))
	}
	if err := s.Resize(1, 1); err == nil {
		return fmt.Errorf("resize after a write error: no error")
	}
	if err := s.Close(context.Background(), asciicast.Exit{Reason: "recording failed"}); err == nil {
		return fmt.Errorf("close after a write error: no error")
	}
	return nil
}

// startChild runs the test binary in a child mode.
func startChild(t *testing.T, mode, path string, stdout *bytes.Buffer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childPathEnv+"="+path)
	cmd.Stdout = stdout
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("child stderr: %s", stderr.String())
		}
	})
	return cmd
}

// TestDurabilityAfterSIGKILL: a Writer in a child process killed with
// SIGKILL after several flush intervals leaves a valid cast holding every
// event up to its last flush, with no gap and no partial line.
func TestDurabilityAfterSIGKILL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "killed.cast")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+childDurability, childPathEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() { // owned by this test: ends when the child's stdout closes
		sc := bufio.NewScanner(out)
		ok := sc.Scan() && sc.Text() == "READY"
		ready <- ok
		for sc.Scan() {
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatal("child did not start")
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("child did not start in time")
	}
	time.Sleep(700 * time.Millisecond) // seven flush intervals
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	raw := asciicasttest.ReadFile(t, path)
	sum, err := asciicast.Summarize(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("killed file: %v", err)
	}
	if sum.Truncated || !bytes.HasSuffix(raw, []byte("\n")) {
		t.Error("killed file ends with a partial line")
	}
	if sum.Closed {
		t.Error("killed file has an exit event")
	}
	if sum.Events < 10 || sum.LastEventTime < 0.3 {
		t.Errorf("killed file has %d events up to %.3fs; flushes every 0.1s over 0.7s should have kept more",
			sum.Events, sum.LastEventTime)
	}
	_, evs := asciicasttest.ReadAll(t, bytes.NewReader(raw))
	var want strings.Builder
	for i := range evs {
		fmt.Fprintf(&want, "tick %d 日本\r\n", i)
	}
	if got := asciicasttest.Joined(evs, asciicast.CodeOutput); got != want.String() {
		t.Errorf("events have a gap or damage")
	}
	if cat := asciicasttest.AsciinemaCat(t, path); !strings.Contains(cat, "tick 0 日本") {
		t.Errorf("asciinema cat of the killed file: %q", cat)
	}
	t.Logf("after SIGKILL at ~0.7s: %d events kept, last at %.3fs, %d bytes", sum.Events, sum.LastEventTime, len(raw))
}

// TestManagerDiskFull: a session whose file hits a real write error (the
// file-size limit, as a full disk would) fails: Output returns an error,
// later calls too, and the Index gets Status "failed" with the error, and
// the hash of what is on disk.
func TestManagerDiskFull(t *testing.T) {
	base := filepath.Join(t.TempDir(), "recordings")
	var stdout bytes.Buffer
	cmd := startChild(t, childDiskFull, base, &stdout)
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("child: %v\nstdout: %s", err, stdout.String())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("child timed out")
	}
	var rec recording.Meta
	for line := range strings.Lines(stdout.String()) {
		if b, ok := strings.CutPrefix(line, "RECORD "); ok {
			if err := json.Unmarshal([]byte(b), &rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !strings.Contains(stdout.String(), "OUTPUT-ERROR") {
		t.Errorf("no output error reported: %s", stdout.String())
	}
	if rec.Status != recording.StatusFailed || !strings.Contains(rec.Error, "file too large") {
		t.Errorf("record status %q error %q, want failed with the write error", rec.Status, rec.Error)
	}
	f, err := os.Open(filepath.Join(base, rec.Path))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	sha, size, err := HashFile(f)
	if err != nil || sha != rec.SHA256 || size != rec.FileSize || size > diskFullLimit {
		t.Errorf("file %s %d bytes, record %s %d bytes (limit %d)", sha, size, rec.SHA256, rec.FileSize, diskFullLimit)
	}
	plain := asciicasttest.ReadFile(t, filepath.Join(base, rec.Path))
	if sum, err := asciicast.Summarize(bytes.NewReader(plain)); err != nil || sum.Events == 0 || sum.Truncated {
		t.Errorf("the part written before the disk filled is not whole lines: %+v %v", sum, err)
	}
	// A strict reader must accept it too: no partial line at the end.
	asciicasttest.AsciinemaCat(t, filepath.Join(base, rec.Path))
}
