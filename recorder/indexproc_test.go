//go:build linux

package recorder

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/castfile"
)

// Child modes of the keyframe child tests.
const (
	childKeyframes = "index" // WriteIndex of JUMPCAST_RECORDER_REL, then report priorities
	childHang      = "hang"  // write the pid, then sleep until killed
	childRelEnv    = "JUMPCAST_RECORDER_REL"
	childReportEnv = "JUMPCAST_RECORDER_REPORT"
)

func init() { extraChildren = runIndexChild }

// runIndexChild runs the keyframe child modes; ok is false for another mode.
func runIndexChild(mode string) (ok bool, err error) {
	switch mode {
	case childKeyframes:
		if err := IndexChild(os.Getenv(childPathEnv), os.Getenv(childRelEnv)); err != nil {
			return true, err
		}
		return true, os.WriteFile(os.Getenv(childReportEnv), []byte(priorities()), 0o600)
	case childHang:
		if err := os.WriteFile(os.Getenv(childReportEnv), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
			return true, err
		}
		time.Sleep(time.Minute)
		return true, errors.New("not killed")
	}
	return false, nil
}

// priorities describes every thread of this process: "nice ioprio" each.
func priorities() string {
	tasks, _ := os.ReadDir("/proc/self/task")
	var b strings.Builder
	for _, t := range tasks {
		stat, err := os.ReadFile(filepath.Join("/proc/self/task", t.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command's closing parenthesis: nice is the 19th
		// field of the line, the 17th after ") ".
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		tid, _ := strconv.Atoi(t.Name())
		io, _, _ := unix.Syscall(unix.SYS_IOPRIO_GET, 1, uintptr(tid), 0)
		fmt.Fprintf(&b, "%s %d\n", f[16], io)
	}
	return b.String()
}

// writeCompressed makes a closed compressed recording of several chunks
// in d and returns its path.
func writeCompressed(t *testing.T, d *Dir) string {
	t.Helper()
	data, idx, rel, err := d.CreateCompressed(testID)
	if err != nil {
		t.Fatal(err)
	}
	w := castfile.NewWriter(data, idx, asciicast.Header{Width: 80, Height: 24})
	if _, err := w.Write([]byte(`{"version":2,"width":80,"height":24}` + "\n")); err != nil {
		t.Fatal(err)
	}
	for i := range 12000 { // about 700 KiB of output: three chunks
		line := fmt.Sprintf("[%d.%03d,\"o\",\"line %05d of a log the keyframes must show\\r\\n\"]\n", i/100, i%100*10, i)
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(w.Close(), data.Close(), idx.Close()); err != nil {
		t.Fatal(err)
	}
	if castfile.Indexed(d.Files(), rel) {
		t.Fatal("the session's index already has keyframes")
	}
	if st, err := os.Stat(filepath.Join(d.root.Name(), rel)); err != nil || st.Size() <= inProcessIndexMax {
		t.Fatalf("the recording is too small to go to the child (%v)", err)
	}
	return rel
}

// A recording too small to be worth a process is indexed in this one,
// even with IndexInChild: the child command, which would fail, is not
// run.
func TestSmallRecordingIndexedInProcess(t *testing.T) {
	base := t.TempDir()
	d := openTestDir(t, base)
	data, idx, rel, err := d.CreateCompressed(testID)
	if err != nil {
		t.Fatal(err)
	}
	w := castfile.NewWriter(data, idx, asciicast.Header{Width: 80, Height: 24})
	for _, line := range []string{`{"version":2,"width":80,"height":24}`, `[0.5,"o","$ uptime\r\n 06:00 up 1 day\r\n"]`, `[1.0,"o","$ exit\r\n"]`} {
		if _, err := w.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(w.Close(), data.Close(), idx.Close()); err != nil {
		t.Fatal(err)
	}
	ran := false
	d.IndexInChild(func(string) *exec.Cmd { ran = true; return exec.Command("false") })
	if err := d.WriteIndex(rel); err != nil {
		t.Fatal(err)
	}
	if ran || !castfile.Indexed(d.Files(), rel) {
		t.Fatalf("child run: %v; indexed: %v", ran, castfile.Indexed(d.Files(), rel))
	}
}

func childCommand(mode, base, rel, report string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childPathEnv+"="+base, childRelEnv+"="+rel, childReportEnv+"="+report)
	return cmd
}

// The keyframes of a closed recording are written by a child process,
// every thread of which runs at nice 19 and the lowest best-effort I/O
// level: the emulation must not take CPU from sessions.
func TestWriteIndexInChildAtLowestPriority(t *testing.T) {
	base := t.TempDir()
	d := openTestDir(t, base)
	rel := writeCompressed(t, d)
	report := filepath.Join(t.TempDir(), "report")
	d.IndexInChild(func(rel string) *exec.Cmd { return childCommand(childKeyframes, base, rel, report) })
	if err := d.WriteIndex(rel); err != nil {
		t.Fatal(err)
	}
	if !castfile.Indexed(d.Files(), rel) {
		t.Fatal("no keyframes in the index after the child")
	}
	got, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	for _, l := range lines {
		if l != fmt.Sprintf("%d %d", childNice, ioprioBestEffortLowest) {
			t.Fatalf("a thread of the child runs at nice and ioprio %q, want %d %d (all: %q)", l, childNice, ioprioBestEffortLowest, lines)
		}
	}
	if len(lines) < 2 {
		t.Fatalf("the child reported %d threads", len(lines))
	}
	// This process's priority is untouched.
	if p, err := unix.Getpriority(unix.PRIO_PROCESS, 0); err != nil || p != 20 {
		t.Fatalf("the test's own priority is now %d (%v); want nice 0", 20-p, err)
	}
}

// A child that fails gives its last line of stderr as the error; a
// recording that is not one is refused by the child as by WriteIndex.
func TestWriteIndexInChildFailureSaysWhy(t *testing.T) {
	base := t.TempDir()
	d := openTestDir(t, base)
	rel := writeCompressed(t, d)
	d.IndexInChild(func(rel string) *exec.Cmd {
		return childCommand(childKeyframes, base, "../../etc/passwd.cast.gz", "/nonexistent")
	})
	err := d.WriteIndex(rel)
	if err == nil || !strings.Contains(err.Error(), "not a recording path") {
		t.Fatalf("WriteIndex = %v; want the child's refusal", err)
	}
}

// Close kills a child still indexing and waits for it: the folder then
// holds no open file, and no process is left behind.
func TestCloseKillsIndexChild(t *testing.T) {
	base := t.TempDir()
	d := openTestDir(t, base)
	rel := writeCompressed(t, d)
	report := filepath.Join(t.TempDir(), "pid")
	d.IndexInChild(func(rel string) *exec.Cmd { return childCommand(childHang, base, rel, report) })
	done := make(chan error, 1)
	go func() { done <- d.WriteIndex(rel) }()
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; {
		if b, err := os.ReadFile(report); err == nil && len(b) > 0 {
			pid, _ = strconv.Atoi(string(b))
		} else if time.Now().After(deadline) {
			t.Fatal("the child never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("WriteIndex after Close = %v; want nil (not a failure)", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Close took %v", took)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("the child %d is still there after Close (kill 0: %v)", pid, err)
	}
}
