package main

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recindex"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/store"
)

// TestRetentionPurgesFilesRowsTogether: with max_total_size exceeded, the
// oldest finished recordings lose their file and their index row together,
// each purge is an audit event, and an active recording is never touched.
func TestRetentionPurgesFilesRowsTogether(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.SSH.Listen = "127.0.0.1:0"
	cfg.Web.Listen = ""
	cfg.Recording.MinFreeSpace = 0
	p, err := newProgram(cfg, "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close() }()
	ctx := context.Background()
	mgr := recorder.NewManager(recorder.ManagerOptions{Dir: p.bastion.Dir, Index: recindex.New(p.bastion.Store)})
	var finished []*recorder.Session
	start := time.Now().Add(-time.Hour)
	for i := range 3 {
		s, err := mgr.Start(ctx, recorder.SessionInfo{User: "alice", RemoteUser: "root", TargetAlias: "db1",
			Kind: recorder.KindShell, PTY: true, Width: 80, Height: 24, Start: start.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Output([]byte("some output worth keeping a while\r\n")); err != nil {
			t.Fatal(err)
		}
		finished = append(finished, s)
	}
	active, err := mgr.Start(ctx, recorder.SessionInfo{User: "bob", Kind: recorder.KindShell, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range finished {
		if err := s.Close(ctx, asciicast.Exit{HasStatus: true}); err != nil {
			t.Fatal(err)
		}
	}
	p.cfg.Recording.MaxTotalSize = 1 // any finished recording is over the limit
	if err := p.purge(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	page, err := p.bastion.Store.ListRecordings(ctx, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].ID != active.ID() {
		t.Errorf("after purge the index holds %+v; want only the active recording", page.Items)
	}
	for _, s := range finished {
		rel, _ := recording.RelPath(s.ID())
		if f, err := p.bastion.Dir.Open(rel); !errors.Is(err, fs.ErrNotExist) {
			if f != nil {
				_ = f.Close()
			}
			t.Errorf("file of purged recording %s still opens (err %v)", s.ID(), err)
		}
	}
	evs, _, err := p.bastion.Store.ListAudit(ctx, store.AuditFilter{Kind: audit.KindPurge})
	if err != nil || len(evs) != 3 {
		t.Errorf("purge audit events: %d, %v; want 3", len(evs), err)
	}
	_ = active.Close(ctx, asciicast.Exit{})
}
