package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// ErrLowDiskSpace is returned by Start when the recordings folder's file
// system has less free space than ManagerOptions.MinFreeSpace.
var ErrLowDiskSpace = errors.New("recordings disk below free-space floor")

// Index receives each recording's metadata twice: once when it starts and
// once when it ends — never per event. internal/recindex writes it to the
// store (wired by internal/bastion).
type Index interface {
	// Started is called once, with Status recording.StatusActive and the
	// fields known at the start, before the session is let through. An
	// error refuses the recording.
	Started(ctx context.Context, m recording.Meta) error
	// Finished is called once, with Status recording.StatusFinished or
	// recording.StatusFailed and every field filled.
	Finished(ctx context.Context, m recording.Meta) error
}

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	Dir   *Dir  // required: where the files go
	Index Index // nil: nothing is indexed
	Hub   *Hub  // nil: sessions are not offered live
	// FlushInterval: see asciicast.WriterOptions; 0 means
	// recording.MaxFlushInterval.
	FlushInterval time.Duration
	// MinFreeSpace refuses new recordings when the folder's file system
	// has fewer free bytes; 0 disables the check.
	MinFreeSpace uint64
	// Node is this node's id (config store.node_id), written into each
	// recording's row.
	Node string
	// Raw writes plain asciicast files ("<id>.cast") instead of the
	// compressed format with keyframes (recorder/castfile); for the
	// benchmark that compares the two.
	Raw    bool
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now; event times use its monotonic reading
}

// Manager starts recordings: it is the implementation behind the proxy's
// recording seam. Safe for concurrent use.
type Manager struct {
	o   ManagerOptions
	log *slog.Logger
	now func() time.Time
}

// NewManager returns a Manager. o.Dir must be set.
func NewManager(o ManagerOptions) *Manager {
	m := &Manager{o: o, log: o.Logger, now: o.Now}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m
}

// Start begins the recording of a session: it checks the free-space
// floor, creates the file, writes the header, reports the recording to the
// Index and offers it to the Hub. Any failure is an error and leaves no
// file behind; the caller applies the failure policy.
func (m *Manager) Start(ctx context.Context, info SessionInfo) (*Session, error) {
	if m.o.Dir == nil {
		return nil, errors.New("start recording: no recordings folder")
	}
	if info.Start.IsZero() {
		info.Start = m.now()
	}
	if info.ID == "" {
		info.ID = recording.NewID(info.Start)
	} else if !recording.ValidID(info.ID) {
		return nil, fmt.Errorf("start recording: invalid id %q", info.ID)
	}
	if err := m.checkSpace(); err != nil {
		return nil, err
	}
	info.Env = SessionEnv(info.Term, info.Env)
	if info.Width <= 0 || info.Height <= 0 {
		// The index states the size the header states: a client without a
		// terminal (ssh -tt from a pipe) asks for 0×0.
		info.Width, info.Height = asciicast.DefaultWidth, asciicast.DefaultHeight
	}
	var f, idx *os.File
	var rel string
	var err error
	if m.o.Raw {
		f, rel, err = m.o.Dir.Create(info.ID)
	} else {
		f, idx, rel, err = m.o.Dir.CreateCompressed(info.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("start recording: %w", err)
	}
	s := newSession(m, info, f, rel)
	s.idx = idx
	if err := s.open(ctx, info); err != nil {
		if s.cw != nil {
			_ = s.cw.Close()
		}
		_ = f.Close()
		if idx != nil {
			_ = idx.Close()
		}
		_ = m.o.Dir.Remove(rel)
		return nil, fmt.Errorf("start recording %s: %w", info.ID, err)
	}
	m.log.Info("recording started", "session_id", info.ID, "user", info.User,
		"target", s.rec.Title, "remote_user", info.RemoteUser, "path", rel, "kind", info.Kind)
	return s, nil
}

func (m *Manager) checkSpace() error {
	if m.o.MinFreeSpace == 0 {
		return nil
	}
	free, err := m.o.Dir.FreeSpace()
	if err != nil {
		return fmt.Errorf("start recording: %w", err)
	}
	if free < m.o.MinFreeSpace {
		return fmt.Errorf("start recording: %w: %d bytes free, floor %d", ErrLowDiskSpace, free, m.o.MinFreeSpace)
	}
	return nil
}

// target names the target for titles: the alias, else the address.
func target(info SessionInfo) string {
	if info.TargetAlias != "" {
		return info.TargetAlias
	}
	return info.TargetAddr
}

// title is the recording's title: "root@db1 — alice".
func title(info SessionInfo) string {
	return info.RemoteUser + "@" + target(info) + " — " + info.User
}

// startMeta is the metadata of a recording as it starts: what info says,
// with its title, its file's path rel and the active status. The command
// is cut to recording.MaxCommandLen (the file's header keeps it whole).
func startMeta(info SessionInfo, rel, node string) recording.Meta {
	command, commandLen := recording.CutCommand(info.Command)
	return recording.Meta{
		ID: info.ID, User: info.User, KeyFingerprint: info.KeyFingerprint, RemoteUser: info.RemoteUser,
		TargetAlias: info.TargetAlias, TargetAddr: info.TargetAddr, ClientAddr: info.ClientAddr,
		Kind: info.Kind, Command: command, CommandLen: commandLen, Term: info.Term, Width: info.Width, Height: info.Height,
		Start: info.Start, Title: title(info), Path: rel, Status: recording.StatusActive, Node: node,
	}
}

// exitStatus is e's exit-status as Meta.ExitStatus holds it: nil when the
// target sent none.
func exitStatus(e asciicast.Exit) *int {
	if !e.HasStatus {
		return nil
	}
	st := e.Status
	return &st
}

// header builds the asciicast header of a session.
func header(info SessionInfo) asciicast.Header {
	h := asciicast.Header{
		Version:   2,
		Width:     info.Width,
		Height:    info.Height,
		Timestamp: info.Start.Unix(),
		Title:     title(info),
		Env:       info.Env,
		Jumpcast: &asciicast.HeaderMeta{
			SessionID:      info.ID,
			User:           info.User,
			KeyFingerprint: info.KeyFingerprint,
			RemoteUser:     info.RemoteUser,
			Target:         target(info),
			TargetAddr:     info.TargetAddr,
			ClientAddr:     info.ClientAddr,
			Kind:           info.Kind,
		},
	}
	if h.Width <= 0 || h.Height <= 0 {
		h.Width, h.Height = asciicast.DefaultWidth, asciicast.DefaultHeight
	}
	if info.Kind != KindShell {
		h.Command = info.Command
	}
	return h
}
