package recorder

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

// blockWorker holds the Writer's lock (through Snapshot, as a joining
// watcher does) until the returned function is called, and records first,
// which starts a worker that then waits for the lock: events recorded
// meanwhile queue up behind it.
func blockWorker(t *testing.T, s *Session, first []byte) (release func()) {
	t.Helper()
	held, done := make(chan struct{}), make(chan struct{})
	go func() { // owner: the test; ends when release is called
		_ = s.w.Snapshot(func(int64) { close(held); <-done })
	}()
	<-held
	must(t, s.Output(first))
	return func() { close(done) }
}

// TestSessionTimesAreTakenWhenBytesPass: the worker may encode late (here
// it is held back), but every event keeps the time at which Output, Input
// or Resize was called, in call order.
func TestSessionTimesAreTakenWhenBytesPass(t *testing.T) {
	f := newManagerFixture(t, nil)
	s, err := f.m.Start(context.Background(), shellInfo())
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Set(100 * time.Millisecond)
	motd := strings.Repeat("welcome ", 40) + "\r\n"
	release := blockWorker(t, s, []byte(motd))
	must(t, s.Output([]byte("$ ")))
	f.clk.Set(250 * time.Millisecond)
	must(t, s.Input([]byte("l")))
	f.clk.Set(300 * time.Millisecond)
	must(t, s.Resize(100, 30))
	f.clk.Set(1250 * time.Millisecond)
	must(t, s.Output([]byte("s\r\n日本")))
	f.clk.Set(9 * time.Second) // the worker only runs now
	release()
	must(t, s.Close(context.Background(), asciicast.Exit{HasStatus: true}))

	raw := asciicasttest.ReadFile(t, filepath.Join(f.base, f.index.finished[s.ID()].Path))
	_, evs := asciicasttest.ReadAll(t, bytes.NewReader(raw))
	want := []asciicast.Event{
		{Time: 0.1, Code: "o", Data: motd},
		{Time: 0.1, Code: "o", Data: "$ "},
		{Time: 0.25, Code: "i", Data: "l"},
		{Time: 0.3, Code: "r", Data: "100x30"},
		{Time: 1.25, Code: "o", Data: "s\r\n日本"},
		{Time: 9, Code: "x", Data: "0"},
	}
	if len(evs) != len(want) {
		t.Fatalf("events %+v, want %+v", evs, want)
	}
	for i := range want {
		if evs[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, evs[i], want[i])
		}
	}
}

// TestSessionBackpressureNeverDrops: with the worker held back, Output
// blocks once the queue is full (the admin's stream slows down) and, when
// the worker resumes, every byte is recorded in order.
func TestSessionBackpressureNeverDrops(t *testing.T) {
	f := newManagerFixture(t, nil)
	s, err := f.m.Start(context.Background(), shellInfo())
	if err != nil {
		t.Fatal(err)
	}
	first := strings.Repeat("-", 1000)
	release := blockWorker(t, s, []byte(first))
	const chunks = 3 * queueDepth
	var sent atomic.Int32
	done := make(chan struct{})
	var want strings.Builder
	want.WriteString(first)
	parts := make([][]byte, chunks)
	for i := range parts {
		parts[i] = []byte(strings.Repeat(string(rune('a'+i%26)), 1000) + "é\r\n")
		want.Write(parts[i])
	}
	go func() { // owner: the test; ends after the last Output
		defer close(done)
		for i := range chunks {
			if err := s.Output(parts[i]); err != nil {
				t.Errorf("output %d: %v", i, err)
			}
			sent.Add(1)
		}
	}()
	time.Sleep(100 * time.Millisecond)
	// The worker holds the first item; the queue takes queueDepth more.
	if n := sent.Load(); n != queueDepth {
		t.Errorf("%d outputs returned while the worker was held, want the queue depth %d", n, queueDepth)
	}
	release()
	<-done
	must(t, s.Close(context.Background(), asciicast.Exit{HasStatus: true}))
	raw := asciicasttest.ReadFile(t, filepath.Join(f.base, f.index.finished[s.ID()].Path))
	_, evs := asciicasttest.ReadAll(t, bytes.NewReader(raw))
	if got := asciicasttest.Joined(evs, asciicast.CodeOutput); got != want.String() {
		t.Errorf("recorded %d bytes, want %d in order", len(got), want.Len())
	}
}

// TestSessionFailureReportedWhileIdle: a write failure found by the worker
// or by the flush timer reaches NotifyFailure without any further call,
// so a fail-closed session is ended even if nothing more is printed; a
// function set after the failure is called at once.
func TestSessionFailureReportedWhileIdle(t *testing.T) {
	for _, c := range []struct {
		name string
		out  []byte
	}{
		{"worker write", bytes.Repeat([]byte("x"), 128<<10)}, // twice the Writer's 64 KiB flush size: written by the worker
		{"timer flush", []byte("prompt$ ")},                  // written by the flush timer
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newManagerFixture(t, nil)
			s, err := f.m.Start(context.Background(), shellInfo())
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan error, 1)
			s.NotifyFailure(func(err error) { got <- err })
			_ = s.file.Close() // every write fails from now on, as on a lost disk
			// Output returns before the worker writes, or — when the worker
			// was quicker — with the worker's failure: either way the
			// failure must also reach the function below.
			if err := s.Output(c.out); err != nil && !strings.Contains(err.Error(), "write recording") {
				t.Fatal(err)
			}
			select {
			case err := <-got:
				if !strings.Contains(err.Error(), "write recording") {
					t.Errorf("failure %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("failure not reported while the session was idle")
			}
			if err := s.Output([]byte("more")); err == nil {
				t.Error("output after the failure: no error")
			}
			late := make(chan error, 1)
			s.NotifyFailure(func(err error) { late <- err })
			select {
			case <-late:
			default:
				t.Error("a function set after the failure was not called")
			}
			if err := s.Close(context.Background(), asciicast.Exit{}); err == nil {
				t.Error("close after the failure: no error")
			}
			if rec := f.index.finished[s.ID()]; rec.Status != recording.StatusFailed {
				t.Errorf("status %q", rec.Status)
			}
		})
	}
}

// TestSessionBinaryShortcut: without a PTY, output holding a NUL byte is
// counted without being copied, and the count includes a UTF-8 carry
// pending from the previous chunk — the same file as the Writer alone
// writes.
func TestSessionBinaryShortcut(t *testing.T) {
	chunks := [][]byte{[]byte("text \xe6\x97"), {0, 1, 2, 0xff}, []byte("more 日本\n"), {0}}
	f := newManagerFixture(t, nil)
	info := shellInfo()
	info.Kind, info.Command, info.PTY, info.Term = KindExec, "tar c .", false, ""
	s, err := f.m.Start(context.Background(), info)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := asciicast.NewWriter(&buf, asciicast.Header{}, asciicast.WriterOptions{Clock: (&asciicasttest.Clock{}).Now, SummarizeBinary: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chunks {
		must(t, s.Output(c))
		must(t, w.Output(c))
	}
	must(t, s.Close(context.Background(), asciicast.Exit{HasStatus: true}))
	must(t, w.Close(asciicast.Exit{HasStatus: true}))
	raw := asciicasttest.ReadFile(t, filepath.Join(f.base, f.index.finished[s.ID()].Path))
	_, got := asciicasttest.ReadAll(t, bytes.NewReader(raw))
	_, want := asciicasttest.ReadAll(t, &buf)
	if len(got) != len(want) {
		t.Fatalf("session events %+v, writer events %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if asciicasttest.Joined(got, asciicast.CodeMarker) != "[binary output: 6 bytes][binary output: 1 bytes]" {
		t.Errorf("markers %q", asciicasttest.Joined(got, asciicast.CodeMarker))
	}
}

// BenchmarkSessionOutput measures a session end to end (queue, worker,
// encoding, SHA-256, file writes to a temporary folder) on 4 KiB and
// 32 KiB text chunks; allocations are the copy loop's and the worker's.
func BenchmarkSessionOutput(b *testing.B) {
	for _, c := range []struct {
		name string
		size int
	}{{"16B", 16}, {"4KiB", 4 << 10}, {"32KiB", 32 << 10}, {"64KiB", 64 << 10}} {
		size := c.size
		b.Run(c.name, func(b *testing.B) {
			s := startShell(b)
			// asciicast's BenchmarkEncode "cjk" text, repeated to size.
			line := "日本語のテキストと中文字符，한국어 😀 e\u0301\r\n"
			chunk := []byte(strings.Repeat(strings.Repeat(line, 4096/len(line)+1)[:4096], size/4096+1)[:size])
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Output(chunk); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Close(context.Background(), asciicast.Exit{}); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// TestSessionMixedSizesKeepStreamOrder: chunks of every size (small and
// large pooled buffers, and beyond) from concurrent output and input
// copiers give each stream byte for byte in order.
func TestSessionMixedSizesKeepStreamOrder(t *testing.T) {
	f := newManagerFixture(t, nil)
	s, err := f.m.Start(context.Background(), shellInfo())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	var outs, ins [][]byte
	for i := range 400 {
		n := []int{1, 5, smallBuf, smallBuf + 1, 3000, largeBuf + 1}[rng.IntN(6)]
		outs = append(outs, []byte(strings.Repeat(string(rune('a'+i%26)), n)+"日本"))
		ins = append(ins, []byte(strings.Repeat(string(rune('A'+i%26)), 1+rng.IntN(smallBuf*2))))
	}
	done := make(chan struct{})
	go func() { // owner: the test; the input copier
		defer close(done)
		for _, p := range ins {
			if err := s.Input(p); err != nil {
				t.Errorf("input: %v", err)
			}
		}
	}()
	for _, p := range outs {
		must(t, s.Output(p))
	}
	<-done
	must(t, s.Close(context.Background(), asciicast.Exit{HasStatus: true}))
	raw := asciicasttest.ReadFile(t, filepath.Join(f.base, f.index.finished[s.ID()].Path))
	_, evs := asciicasttest.ReadAll(t, bytes.NewReader(raw))
	if got, want := asciicasttest.Joined(evs, asciicast.CodeOutput), string(bytes.Join(outs, nil)); got != want {
		t.Errorf("output: %d bytes recorded, want %d in order", len(got), len(want))
	}
	if got, want := asciicasttest.Joined(evs, asciicast.CodeInput), string(bytes.Join(ins, nil)); got != want {
		t.Errorf("input: %d bytes recorded, want %d in order", len(got), len(want))
	}
	last := 0.0
	for _, ev := range evs {
		if ev.Time < last {
			t.Fatalf("time went back: %v after %v", ev.Time, last)
		}
		last = ev.Time
	}
}

// TestSessionBinaryCountKeepsOrder: a binary chunk counted while text is
// still queued for the worker is counted after that text, never before.
func TestSessionBinaryCountKeepsOrder(t *testing.T) {
	f := newManagerFixture(t, nil)
	info := shellInfo()
	info.Kind, info.Command, info.PTY, info.Term = KindExec, "tar c .", false, ""
	s, err := f.m.Start(context.Background(), info)
	if err != nil {
		t.Fatal(err)
	}
	release := blockWorker(t, s, []byte("tar: header\n"))
	must(t, s.Output([]byte("second line\n")))
	must(t, s.Output([]byte{0x1f, 0x8b, 0, 1})) // queued behind the text: the worker runs
	release()
	must(t, s.Output([]byte("done\n")))         // ends the binary run
	must(t, s.Output([]byte{0, 0, 0}))          // counted inline once the queue is empty
	must(t, s.Output([]byte("\xe6\x97\xa5\n"))) // a character after the second run
	must(t, s.Close(context.Background(), asciicast.Exit{HasStatus: true}))
	raw := asciicasttest.ReadFile(t, filepath.Join(f.base, f.index.finished[s.ID()].Path))
	_, evs := asciicasttest.ReadAll(t, bytes.NewReader(raw))
	var got []string
	for _, ev := range evs {
		if ev.Code == asciicast.CodeOutput || ev.Code == asciicast.CodeMarker {
			got = append(got, ev.Data)
		}
	}
	want := []string{"tar: header\n", "second line\n", "[binary output: 4 bytes]", "done\n", "[binary output: 3 bytes]", "日\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events %q, want %q", got, want)
	}
}

// startShell starts recording a shell session in a new folder, closed
// with the test.
func startShell(tb testing.TB) *Session {
	tb.Helper()
	d, err := OpenDir(filepath.Join(tb.TempDir(), "rec"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	m := NewManager(ManagerOptions{Dir: d, Hub: NewHub()})
	info := shellInfo()
	info.ID = ""
	s, err := m.Start(context.Background(), info)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestBulkOutputIsPooled: the proxy's bulk reads (64 KiB) are queued in
// pooled buffers, not copied to fresh ones: 32 MiB of output recorded
// allocates a small fraction of that (each chunk copied to the heap
// allocated all of it, and the collections it caused emptied the other
// pools).
func TestBulkOutputIsPooled(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops pooled buffers on purpose")
	}
	s := startShell(t)
	chunk := []byte(strings.Repeat("0123456789abcdef", 4<<10)) // 64 KiB
	for range 16 {                                             // warm the pools
		_ = s.Output(chunk)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 512 {
		if err := s.Output(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(context.Background(), asciicast.Exit{}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Errorf("recording 32 MiB of 64 KiB reads allocated %d MiB", got>>20)
	}
}

// TestSessionTryNeverWaits: TryOutput and TryInput (the proxy's fast
// path, which records while it holds a connection's write lock) take a
// chunk only when the queue has room and the streams are known not to
// speak SFTP, and return at once otherwise; what they took is recorded in
// order with what Output took after them.
func TestSessionTryNeverWaits(t *testing.T) {
	f := newManagerFixture(t, nil)
	info := shellInfo()
	info.Kind, info.Command, info.PTY, info.Term = KindExec, "uptime", false, ""
	s, err := f.m.Start(context.Background(), info)
	if err != nil {
		t.Fatal(err)
	}
	if s.TryOutput([]byte("first\n")) || s.TryInput([]byte("x")) {
		t.Fatal("Try took a chunk before the sftp watch had decided")
	}
	must(t, s.Output([]byte("first\n"))) // not SFTP: the watch decides
	waitQueue := func(done func() bool) {
		for deadline := time.Now().Add(5 * time.Second); !done(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the queue did not settle")
			}
		}
	}
	waitQueue(func() bool { return !s.q.running.Load() })
	if !s.TryInput([]byte("typed\n")) {
		t.Fatal("TryInput refused with the queue idle")
	}
	s.Apply()
	if n := len(s.q.ch); n != 0 || s.q.running.Load() {
		t.Fatalf("after Apply: %d items queued, worker role taken %v", n, s.q.running.Load())
	}
	waitQueue(func() bool { return !s.q.running.Load() })
	release := blockWorker(t, s, []byte("held\n"))
	waitQueue(func() bool { return len(s.q.ch) == 0 }) // the worker holds "held"
	want := []string{"first\n", "held\n"}
	start := time.Now()
	took := 0
	for i := range 3 * queueDepth {
		p := fmt.Sprintf("%d\n", i)
		if !s.TryOutput([]byte(p)) {
			continue
		}
		took++
		want = append(want, p)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("TryOutput on a full queue took %v", d)
	}
	if took != queueDepth {
		t.Errorf("TryOutput took %d chunks with the worker held, want the queue depth %d", took, queueDepth)
	}
	release()
	must(t, s.Output([]byte("last\n")))
	want = append(want, "last\n")
	must(t, s.Close(context.Background(), asciicast.Exit{HasStatus: true}))
	raw := asciicasttest.ReadFile(t, filepath.Join(f.base, f.index.finished[s.ID()].Path))
	_, evs := asciicasttest.ReadAll(t, bytes.NewReader(raw))
	if got := asciicasttest.Joined(evs, asciicast.CodeOutput); got != strings.Join(want, "") {
		t.Errorf("recorded output %q, want %q", got, strings.Join(want, ""))
	}
	if got := asciicasttest.Joined(evs, asciicast.CodeInput); got != "typed\n" {
		t.Errorf("recorded input %q, want \"typed\\n\"", got)
	}
	if in, out := f.index.finished[s.ID()].BytesIn, f.index.finished[s.ID()].BytesOut; in != 6 || out != int64(len(strings.Join(want, ""))) {
		t.Errorf("counted %d bytes in and %d out", in, out)
	}
}
