package recorder

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jumpcast/jumpcast/internal/recording"
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
	f.clk.set(100 * time.Millisecond)
	motd := strings.Repeat("welcome ", 40) + "\r\n"
	release := blockWorker(t, s, []byte(motd))
	must(t, s.Output([]byte("$ ")))
	f.clk.set(250 * time.Millisecond)
	must(t, s.Input([]byte("l")))
	f.clk.set(300 * time.Millisecond)
	must(t, s.Resize(100, 30))
	f.clk.set(1250 * time.Millisecond)
	must(t, s.Output([]byte("s\r\n日本")))
	f.clk.set(9 * time.Second) // the worker only runs now
	release()
	must(t, s.Close(context.Background(), Exit{HasStatus: true}))

	raw, err := os.ReadFile(filepath.Join(f.base, f.index.finished[s.ID()].Path))
	if err != nil {
		t.Fatal(err)
	}
	_, evs := readAll(t, bytes.NewReader(raw))
	want := []Event{{0.1, "o", motd}, {0.1, "o", "$ "}, {0.25, "i", "l"}, {0.3, "r", "100x30"}, {1.25, "o", "s\r\n日本"}, {9, "x", "0"}}
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
	must(t, s.Close(context.Background(), Exit{HasStatus: true}))
	raw, err := os.ReadFile(filepath.Join(f.base, f.index.finished[s.ID()].Path))
	if err != nil {
		t.Fatal(err)
	}
	_, evs := readAll(t, bytes.NewReader(raw))
	if got := joined(evs, CodeOutput); got != want.String() {
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
		{"worker write", bytes.Repeat([]byte("x"), 2*flushSize)}, // written by the worker
		{"timer flush", []byte("prompt$ ")},                      // written by the flush timer
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
			must(t, s.Output(c.out))
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
			if err := s.Close(context.Background(), Exit{}); err == nil {
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
	w, err := NewWriter(&buf, Header{}, WriterOptions{Clock: (&fakeClock{}).now, SummarizeBinary: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chunks {
		must(t, s.Output(c))
		must(t, w.Output(c))
	}
	must(t, s.Close(context.Background(), Exit{HasStatus: true}))
	must(t, w.Close(Exit{HasStatus: true}))
	raw, err := os.ReadFile(filepath.Join(f.base, f.index.finished[s.ID()].Path))
	if err != nil {
		t.Fatal(err)
	}
	_, got := readAll(t, bytes.NewReader(raw))
	_, want := readAll(t, &buf)
	if len(got) != len(want) {
		t.Fatalf("session events %+v, writer events %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if joined(got, CodeMarker) != "[binary output: 6 bytes][binary output: 1 bytes]" {
		t.Errorf("markers %q", joined(got, CodeMarker))
	}
}

// TestEncodeMatchesMarshal: the Writer's event lines are exactly what
// encoding/json makes of the event tuple, and they decode back to the same
// data for valid UTF-8.
func TestEncodeMatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	alphabet := []string{"a", " ", "\r\n", "\t", "\x1b[0m", "\"", "\\", "<>&", "\u2028", "日", "😀", "\x00", "\x7f", "\xff", "e\u0301"}
	for i := range 500 {
		var sb strings.Builder
		for range rng.IntN(40) + 1 {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		data := sb.String()
		at := time.Duration(rng.Int64N(int64(100 * time.Hour)))
		var buf bytes.Buffer
		w, err := NewWriter(&buf, Header{}, WriterOptions{Clock: func() time.Duration { return at }})
		if err != nil {
			t.Fatal(err)
		}
		buf.Reset()
		must(t, w.Marker(data))
		must(t, w.Flush())
		ev := Event{Time: float64(at.Microseconds()) / 1e6, Code: CodeMarker, Data: data}
		want := encodingJSON(t, ev)
		if got := buf.String(); got != string(want)+"\n" {
			t.Fatalf("case %d: writer %q, json %q", i, got, want)
		}
		var back Event
		if err := json.Unmarshal(want, &back); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(data) && back != ev {
			t.Errorf("case %d: round trip %+v, want %+v", i, back, ev)
		}
	}
}

// BenchmarkSessionOutput measures a session end to end (queue, worker,
// encoding, SHA-256, file writes to a temporary folder) on 4 KiB and
// 32 KiB text chunks; allocations are the copy loop's and the worker's.
func BenchmarkSessionOutput(b *testing.B) {
	for _, c := range []struct {
		name string
		size int
	}{{"16B", 16}, {"4KiB", 4 << 10}, {"32KiB", 32 << 10}} {
		size := c.size
		b.Run(c.name, func(b *testing.B) {
			d, err := OpenDir(filepath.Join(b.TempDir(), "rec"))
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = d.Close() }()
			m := NewManager(ManagerOptions{Dir: d, Hub: NewHub()})
			info := shellInfo()
			info.ID = ""
			s, err := m.Start(context.Background(), info)
			if err != nil {
				b.Fatal(err)
			}
			chunk := bytes.Repeat(benchChunk("cjk"), size/4096+1)[:size]
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Output(chunk); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Close(context.Background(), Exit{}); err != nil {
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
	must(t, s.Close(context.Background(), Exit{HasStatus: true}))
	raw, err := os.ReadFile(filepath.Join(f.base, f.index.finished[s.ID()].Path))
	if err != nil {
		t.Fatal(err)
	}
	_, evs := readAll(t, bytes.NewReader(raw))
	if got, want := joined(evs, CodeOutput), string(bytes.Join(outs, nil)); got != want {
		t.Errorf("output: %d bytes recorded, want %d in order", len(got), len(want))
	}
	if got, want := joined(evs, CodeInput), string(bytes.Join(ins, nil)); got != want {
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

// TestWriterGivesBackBurstBuffers: after a burst of output, the timed
// flush of a quiet stream leaves the Writer holding small buffers only.
func TestWriterGivesBackBurstBuffers(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{}, WriterOptions{FlushInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("日本語 ", 5000) + strings.Repeat("x", 30000)
	must(t, w.Output([]byte(text[:40001]))) // ends inside a character
	must(t, w.Output([]byte(text[40001:]))) // the carry joins it in scratch
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.mu.Lock()
		bufCap, scratchCap, pending := cap(w.buf), cap(w.scratch), w.timer != nil
		w.mu.Unlock()
		if !pending && bufCap <= idleBufMax && scratchCap <= idleBufMax {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the flush: buffer capacity %d, scratch %d (want <= %d)", bufCap, scratchCap, idleBufMax)
		}
		time.Sleep(5 * time.Millisecond)
	}
	must(t, w.Output([]byte("$ ")))
	must(t, w.Close(Exit{HasStatus: true}))
	_, evs := readAll(t, &buf)
	if got := joined(evs, CodeOutput); got != text+"$ " {
		t.Errorf("recorded %d bytes, want %d", len(got), len(text)+2)
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
	must(t, s.Close(context.Background(), Exit{HasStatus: true}))
	raw, err := os.ReadFile(filepath.Join(f.base, f.index.finished[s.ID()].Path))
	if err != nil {
		t.Fatal(err)
	}
	_, evs := readAll(t, bytes.NewReader(raw))
	var got []string
	for _, ev := range evs {
		if ev.Code == CodeOutput || ev.Code == CodeMarker {
			got = append(got, ev.Data)
		}
	}
	want := []string{"tar: header\n", "second line\n", "[binary output: 4 bytes]", "done\n", "[binary output: 3 bytes]", "日\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events %q, want %q", got, want)
	}
}
