package recorder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

var update = flag.Bool("update", false, "rewrite the golden .cast files under testdata/")

// memIndex is a small real Index: it keeps the records it is given and
// checks the once-at-start, once-at-end contract.
type memIndex struct {
	mu         sync.Mutex
	started    map[string]recording.Meta
	finished   map[string]recording.Meta
	startedErr error
	t          testing.TB
}

func newMemIndex(t testing.TB) *memIndex {
	return &memIndex{started: map[string]recording.Meta{}, finished: map[string]recording.Meta{}, t: t}
}

func (x *memIndex) Started(_ context.Context, r recording.Meta) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.startedErr != nil {
		return x.startedErr
	}
	if _, dup := x.started[r.ID]; dup {
		x.t.Errorf("Started twice for %s", r.ID)
	}
	x.started[r.ID] = r
	return nil
}

func (x *memIndex) Finished(_ context.Context, r recording.Meta) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.started[r.ID]; !ok {
		x.t.Errorf("Finished without Started for %s", r.ID)
	}
	if _, dup := x.finished[r.ID]; dup {
		x.t.Errorf("Finished twice for %s", r.ID)
	}
	x.finished[r.ID] = r
	return nil
}

func (x *memIndex) count() (int, int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.started), len(x.finished)
}

var testStart = time.Date(2026, 11, 24, 9, 30, 12, 345678000, time.UTC)

func shellInfo() SessionInfo {
	return SessionInfo{
		ID: testID, User: "alice", KeyFingerprint: "SHA256:abc", RemoteUser: "root",
		TargetAlias: "db1", TargetAddr: "10.0.0.5:22", ClientAddr: "192.0.2.7:50123",
		Kind: KindShell, PTY: true, RecordInput: true, Term: "xterm-256color", Width: 132, Height: 43,
		Env:   map[string]string{"SHELL": "/bin/bash", "AWS_SECRET_ACCESS_KEY": "hunter2", "LANG": "C.UTF-8"},
		Start: testStart,
	}
}

type managerFixture struct {
	dir   *Dir
	base  string
	index *memIndex
	hub   *Hub
	clk   *asciicasttest.Clock
	m     *Manager
}

func newManagerFixture(t *testing.T, tweak func(*ManagerOptions)) *managerFixture {
	t.Helper()
	f := &managerFixture{base: filepath.Join(t.TempDir(), "recordings"), index: newMemIndex(t), hub: NewHub(), clk: &asciicasttest.Clock{}}
	var err error
	if f.dir, err = OpenDir(f.base); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.dir.Close() })
	o := ManagerOptions{Dir: f.dir, Index: f.index, Hub: f.hub, FlushInterval: 10 * time.Millisecond,
		Now: func() time.Time { return testStart.Add(f.clk.Now()) }}
	if tweak != nil {
		tweak(&o)
	}
	f.m = NewManager(o)
	return f
}

// TestManagerFullCycle: start, a shell session with split UTF-8, colours,
// typing and a resize, a live watcher joining mid-way, and the close.
func TestManagerFullCycle(t *testing.T) {
	f := newManagerFixture(t, nil)
	ctx := context.Background()
	s, err := f.m.Start(ctx, shellInfo())
	if err != nil {
		t.Fatal(err)
	}
	if got := f.hub.Active(); len(got) != 1 || got[0] != testID {
		t.Errorf("Active = %v", got)
	}
	rec := f.index.started[testID]
	if rec.Status != recording.StatusActive || rec.Path != "2026/11/24/"+testID+".cast.gz" || rec.Title != "root@db1 — alice" {
		t.Errorf("Started record %+v", rec)
	}
	if b, _ := json.Marshal(rec); bytes.Contains(b, []byte("hunter2")) {
		t.Error("a client env variable other than TERM/SHELL reached the index")
	}
	f.clk.Set(100 * time.Millisecond)
	must(t, s.Output([]byte("root@db1:~# ")))
	f.clk.Set(time.Second)
	must(t, s.Input([]byte("ls\r")))
	must(t, s.Output([]byte("\x1b[32m日\xe6")))
	sub, ok := f.hub.Subscribe(testID)
	if !ok {
		t.Fatal("not live")
	}
	f.clk.Set(1500 * time.Millisecond)
	must(t, s.Output([]byte("\x9c\xac\x1b[0m\r\n")))
	must(t, s.Resize(100, 30))
	f.clk.Set(2 * time.Second)
	exit := asciicast.Exit{Status: 3, HasStatus: true}
	must(t, s.Close(ctx, exit))
	if err := s.Close(ctx, exit); err != nil {
		t.Errorf("second Close = %v", err)
	}
	watched := collect(sub)
	sub.Close()

	fin := f.index.finished[testID]
	if fin.Status != recording.StatusFinished || fin.Error != "" || fin.ExitStatus == nil || *fin.ExitStatus != exit.Status || fin.ExitSignal != "" || fin.Duration != 2*time.Second ||
		fin.BytesIn != 3 || fin.BytesOut != int64(len("root@db1:~# \x1b[32m日本\x1b[0m\r\n")) {
		t.Errorf("Finished record %+v", fin)
	}
	path := filepath.Join(f.base, fin.Path)
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	sha, size, err := HashFile(file)
	_ = file.Close()
	if err != nil || sha != fin.SHA256 || size != fin.FileSize {
		t.Errorf("file hash %s size %d, index says %s %d", sha, size, fin.SHA256, fin.FileSize)
	}
	got := asciicasttest.ReadFile(t, path)
	golden := filepath.Join("testdata", "manager_shell.cast")
	if *update {
		must(t, os.WriteFile(golden, got, 0o644))
	}
	if want, err := os.ReadFile(golden); err != nil || !bytes.Equal(got, want) {
		t.Errorf("cast differs from %s (%v):\n%s", golden, err, got)
	}
	h, evs := asciicasttest.ReadAll(t, bytes.NewReader(got))
	if h.Width != 132 || h.Height != 43 || h.Title != "root@db1 — alice" || h.Timestamp != testStart.Unix() ||
		len(h.Env) != 2 || h.Env["TERM"] != "xterm-256color" || h.Env["SHELL"] != "/bin/bash" || h.Command != "" ||
		h.Jumpcast == nil || h.Jumpcast.KeyFingerprint != "SHA256:abc" || h.Jumpcast.ClientAddr != "192.0.2.7:50123" {
		t.Errorf("header %+v %+v", h, h.Jumpcast)
	}
	if len(watched) != len(evs) {
		t.Errorf("watcher saw %d events, file has %d", len(watched), len(evs))
	}
	for i := range min(len(watched), len(evs)) {
		if watched[i] != evs[i] {
			t.Errorf("watcher event %d = %+v, file %+v", i, watched[i], evs[i])
		}
	}
	if cat := asciicasttest.AsciinemaCat(t, path); !strings.Contains(cat, "日本") {
		t.Errorf("asciinema cat: %q", cat)
	}
	if len(f.hub.Active()) != 0 {
		t.Error("session still live after Close")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestManagerExecWithoutPTY(t *testing.T) {
	f := newManagerFixture(t, nil)
	info := shellInfo()
	info.ID, info.Kind, info.Command, info.PTY, info.Term, info.Width, info.Height = "", KindExec, "tar cz /etc", false, "", 0, 0
	info.RecordInput = false
	s, err := f.m.Start(context.Background(), info)
	if err != nil {
		t.Fatal(err)
	}
	if !recording.ValidID(s.ID()) {
		t.Errorf("assigned id %q", s.ID())
	}
	must(t, s.Input([]byte("secret stdin")))
	must(t, s.Output([]byte("tar: removing leading /\n")))
	blob := bytes.Repeat([]byte{0x1f, 0x8b, 0, 0xff}, 256<<10) // 1 MiB of "gzip"
	for i := 0; i < len(blob); i += 32 << 10 {
		must(t, s.Output(blob[i:i+32<<10]))
	}
	must(t, s.Close(context.Background(), asciicast.Exit{HasStatus: true}))
	fin := f.index.finished[s.ID()]
	if fin.BytesIn != 12 || fin.BytesOut != int64(len(blob))+24 || fin.Status != recording.StatusFinished {
		t.Errorf("record %+v", fin)
	}
	if fin.FileSize > 4096 {
		t.Errorf("1 MiB of binary output made a %d-byte cast", fin.FileSize)
	}
	path := filepath.Join(f.base, fin.Path)
	raw := asciicasttest.ReadFile(t, path)
	h, evs := asciicasttest.ReadAll(t, bytes.NewReader(raw))
	if h.Command != "tar cz /etc" || h.Width != 80 || h.Height != 24 || h.Env["TERM"] != "" {
		t.Errorf("header %+v", h)
	}
	if r := f.index.started[s.ID()]; r.Width != h.Width || r.Height != h.Height || fin.Width != h.Width || fin.Height != h.Height {
		t.Errorf("index size %dx%d (start) %dx%d (end), header %dx%d", r.Width, r.Height, fin.Width, fin.Height, h.Width, h.Height)
	}
	if strings.Contains(string(raw), "secret stdin") {
		t.Error("input recorded without SessionInfo.RecordInput")
	}
	if asciicasttest.Joined(evs, asciicast.CodeMarker) != "[binary output: 1048576 bytes]" {
		t.Errorf("markers %q", asciicasttest.Joined(evs, asciicast.CodeMarker))
	}
	if cat := asciicasttest.AsciinemaCat(t, path); !strings.Contains(cat, "tar: removing leading /") {
		t.Errorf("asciinema cat: %q", cat)
	}
}

func TestManagerRefusals(t *testing.T) {
	t.Run("free space floor", func(t *testing.T) {
		f := newManagerFixture(t, func(o *ManagerOptions) { o.MinFreeSpace = 1 << 62 })
		_, err := f.m.Start(context.Background(), shellInfo())
		if !errors.Is(err, ErrLowDiskSpace) {
			t.Fatalf("Start = %v, want ErrLowDiskSpace", err)
		}
		assertNothingStarted(t, f)
	})
	t.Run("floor not reached", func(t *testing.T) {
		f := newManagerFixture(t, func(o *ManagerOptions) { o.MinFreeSpace = 1 })
		s, err := f.m.Start(context.Background(), shellInfo())
		if err != nil {
			t.Fatal(err)
		}
		must(t, s.Close(context.Background(), asciicast.Exit{}))
	})
	t.Run("folder path blocked by a file", func(t *testing.T) {
		f := newManagerFixture(t, nil)
		must(t, os.WriteFile(filepath.Join(f.base, "2026"), nil, 0o600))
		if _, err := f.m.Start(context.Background(), shellInfo()); err == nil {
			t.Fatal("Start succeeded")
		}
		assertNothingStarted(t, f)
	})
	t.Run("folder deleted", func(t *testing.T) {
		f := newManagerFixture(t, nil)
		must(t, os.RemoveAll(f.base))
		if _, err := f.m.Start(context.Background(), shellInfo()); err == nil {
			t.Fatal("Start succeeded in a deleted folder")
		}
		assertNothingStarted(t, f)
	})
	t.Run("folder read-only", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root writes through permissions (covered by the other cases)")
		}
		f := newManagerFixture(t, nil)
		must(t, os.Chmod(f.base, 0o500))
		t.Cleanup(func() { _ = os.Chmod(f.base, 0o700) })
		if _, err := f.m.Start(context.Background(), shellInfo()); err == nil {
			t.Fatal("Start succeeded in a read-only folder")
		}
	})
	t.Run("index refuses", func(t *testing.T) {
		f := newManagerFixture(t, nil)
		f.index.startedErr = errors.New("store closed")
		_, err := f.m.Start(context.Background(), shellInfo())
		if err == nil || !strings.Contains(err.Error(), "store closed") {
			t.Fatalf("Start = %v", err)
		}
		if _, err := os.Stat(filepath.Join(f.base, "2026/11/24", testID+".cast")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("file left behind: %v", err)
		}
		if len(f.hub.Active()) != 0 {
			t.Error("refused session is live")
		}
	})
	t.Run("bad id", func(t *testing.T) {
		f := newManagerFixture(t, nil)
		info := shellInfo()
		info.ID = "../../etc/passwd"
		if _, err := f.m.Start(context.Background(), info); err == nil {
			t.Fatal("Start accepted a bad id")
		}
	})
}

func assertNothingStarted(t *testing.T, f *managerFixture) {
	t.Helper()
	if s, e := f.index.count(); s != 0 || e != 0 {
		t.Errorf("index called %d/%d times", s, e)
	}
	if len(f.hub.Active()) != 0 {
		t.Error("refused session is live")
	}
	_ = filepath.WalkDir(f.base, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".cast") {
			t.Errorf("file created: %s", p)
		}
		return nil
	})
}

// TestClosedRecordingHashIsLogged: the "recording closed" log line carries
// the SHA-256 of the file as written, the one the index stores.
func TestClosedRecordingHashIsLogged(t *testing.T) {
	var logs bytes.Buffer
	f := newManagerFixture(t, func(o *ManagerOptions) {
		o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	ctx := context.Background()
	s, err := f.m.Start(ctx, shellInfo())
	if err != nil {
		t.Fatal(err)
	}
	must(t, s.Output([]byte("hashed output\r\n")))
	must(t, s.Close(ctx, asciicast.Exit{Status: 0, HasStatus: true}))
	data, err := os.ReadFile(filepath.Join(f.base, filepath.FromSlash(f.index.finished[testID].Path)))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	if f.index.finished[testID].SHA256 != want {
		t.Fatalf("index hash %q, file hash %q", f.index.finished[testID].SHA256, want)
	}
	var closed map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "recording closed" {
			closed = m
		}
	}
	if closed == nil || closed["sha256"] != want || closed["session_id"] != testID {
		t.Errorf("recording closed line %v, want sha256 %s", closed, want)
	}
}
