package recindex

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/castfile"
	"github.com/jumpcast/jumpcast/store"
)

// openRecorder opens a store and a recordings folder in a temporary
// folder (closed by Cleanup) and a Manager writing to both.
func openRecorder(t *testing.T) (*store.Store, *recorder.Dir, *recorder.Manager) {
	t.Helper()
	base := t.TempDir()
	st, err := store.Open(filepath.Join(base, "jumpcast.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	dir, err := recorder.OpenDir(filepath.Join(base, "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dir.Close() })
	return st, dir, recorder.NewManager(recorder.ManagerOptions{Dir: dir, Index: New(st), FlushInterval: 10 * time.Millisecond})
}

func TestIndexAndRecovery(t *testing.T) {
	ctx := context.Background()
	st, dir, m := openRecorder(t)
	info := recorder.SessionInfo{User: "alice", RemoteUser: "root", TargetAlias: "db1", TargetAddr: "10.0.0.5:22",
		ClientAddr: "192.0.2.7:5000", Kind: recorder.KindShell, PTY: true, Term: "xterm", Width: 100, Height: 30}

	// A finished session: one row, written at start and at the end.
	s, err := m.Start(ctx, info)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := st.GetRecording(ctx, s.ID()); err != nil || r.Status != recording.StatusActive || r.Width != 100 {
		t.Fatalf("at start: %+v, %v", r, err)
	}
	if err := s.Output([]byte("hello\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx, asciicast.Exit{HasStatus: true, Status: 3}); err != nil {
		t.Fatal(err)
	}
	r, err := st.GetRecording(ctx, s.ID())
	if err != nil || r.Status != recording.StatusFinished || r.ExitStatus == nil || *r.ExitStatus != 3 ||
		r.BytesOut != 7 || len(r.SHA256) != 64 || r.Title != "root@db1 — alice" {
		t.Fatalf("at the end: %+v, %v", r, err)
	}

	// A session a crash left active: recovery closes it from its file.
	s2, err := m.Start(ctx, info)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Output([]byte("still running\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // past the flush interval: the event is in the file
	n, err := st.RecoverActive(ctx, "", Recover(dir))
	if err != nil || n != 1 {
		t.Fatalf("RecoverActive = %d, %v", n, err)
	}
	r2, err := st.GetRecording(ctx, s2.ID())
	if err != nil || r2.Status != recording.StatusInterrupted || len(r2.SHA256) != 64 || r2.FileSize == 0 || r2.End.Before(r2.Start) {
		t.Fatalf("recovered: %+v, %v", r2, err)
	}
	_ = s2.Close(ctx, asciicast.Exit{})
}

// At start the closed recordings whose index lacks keyframes (here: one a
// repair rewrote without them) are handed to the background indexer.
func TestQueueKeyframes(t *testing.T) {
	ctx := context.Background()
	st, dir, m := openRecorder(t)
	s, err := m.Start(ctx, recorder.SessionInfo{User: "alice", RemoteUser: "root", TargetAlias: "db1",
		Kind: recorder.KindShell, PTY: true, Width: 80, Height: 24})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Output([]byte("\x1b[?1049hfull screen\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx, asciicast.Exit{HasStatus: true}); err != nil {
		t.Fatal(err)
	}
	r, err := st.GetRecording(ctx, s.ID())
	if err != nil {
		t.Fatal(err)
	}
	indexed := func() bool {
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if castfile.Indexed(dir.Files(), r.Path) {
				return true
			}
		}
		return false
	}
	if !indexed() {
		t.Fatal("the closed recording's keyframes were never written")
	}
	if err := dir.Repair(r.Path); err != nil { // an index without keyframes, as after a crash
		t.Fatal(err)
	}
	if castfile.Indexed(dir.Files(), r.Path) {
		t.Fatal("a repaired index claims every keyframe")
	}
	if n, err := QueueKeyframes(ctx, st, dir, "", slog.New(slog.DiscardHandler)); err != nil || n != 1 {
		t.Fatalf("QueueKeyframes = %d, %v; want 1", n, err)
	}
	if !indexed() {
		t.Error("the queued recording's keyframes were never written")
	}
	if n, _ := QueueKeyframes(ctx, st, dir, "", slog.New(slog.DiscardHandler)); n != 0 {
		t.Errorf("QueueKeyframes queued %d recordings that have their keyframes", n)
	}
}
