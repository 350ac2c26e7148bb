package main

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// fixtureTB lets the harness use internal/sshtest's fixtures, which take a
// testing.TB, from a plain program. It implements the methods those
// fixtures call (Helper, Fatal*, Skip*, Error*, Log*, Cleanup, TempDir,
// Name); the embedded nil testing.TB only supplies the interface's private
// method, and any other method would panic on it.
//
// A failure (Fatal, Error or Skip: a missing binary is a failure for the
// harness) panics with a fixtureFailure, which main recovers after running
// the cleanups.
type fixtureTB struct {
	testing.TB
	root    string // every TempDir is made under it; removed by Close
	verbose bool

	mu       sync.Mutex // guards cleanups and n
	cleanups []func()
	n        int
}

// fixtureFailure is the panic value of a failed fixture.
type fixtureFailure struct{ msg string }

func (f fixtureFailure) Error() string { return f.msg }

// newFixtureTB makes the root temporary folder.
func newFixtureTB(verbose bool) (*fixtureTB, error) {
	root, err := os.MkdirTemp("", "jumpcast-bench-")
	if err != nil {
		return nil, fmt.Errorf("create temporary folder: %w", err)
	}
	return &fixtureTB{root: root, verbose: verbose}, nil
}

func (t *fixtureTB) Helper()      {}
func (t *fixtureTB) Name() string { return "jumpcast-bench" }

func (t *fixtureTB) Fatalf(format string, args ...any) {
	panic(fixtureFailure{fmt.Sprintf(format, args...)})
}
func (t *fixtureTB) Fatal(args ...any)                 { panic(fixtureFailure{fmt.Sprint(args...)}) }
func (t *fixtureTB) Errorf(format string, args ...any) { t.Fatalf(format, args...) }
func (t *fixtureTB) Error(args ...any)                 { t.Fatal(args...) }
func (t *fixtureTB) Skipf(format string, args ...any) {
	t.Fatalf("fixture unavailable: "+format, args...)
}
func (t *fixtureTB) Skip(args ...any) { t.Fatal(append([]any{"fixture unavailable: "}, args...)...) }
func (t *fixtureTB) FailNow()         { t.Fatal("fixture failed") }

func (t *fixtureTB) Logf(format string, args ...any) {
	if t.verbose {
		fmt.Fprintf(os.Stderr, "fixture: "+format+"\n", args...)
	}
}
func (t *fixtureTB) Log(args ...any) { t.Logf("%s", fmt.Sprint(args...)) }

// Cleanup registers f to run, last registered first, in Close.
func (t *fixtureTB) Cleanup(f func()) {
	t.mu.Lock()
	t.cleanups = append(t.cleanups, f)
	t.mu.Unlock()
}

// TempDir returns a new folder under the root.
func (t *fixtureTB) TempDir() string {
	t.mu.Lock()
	t.n++
	n := t.n
	t.mu.Unlock()
	dir := fmt.Sprintf("%s/%03d", t.root, n)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatalf("temporary folder: %v", err)
	}
	return dir
}

// Close runs the cleanups (last first) and removes the root folder.
func (t *fixtureTB) Close() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
	_ = os.RemoveAll(t.root)
}
