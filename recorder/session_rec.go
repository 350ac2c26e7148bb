package recorder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Session is one recording in progress. Output, Input and Resize are safe
// for concurrent use; after the first write error they all return it (the
// caller applies the failure policy). Close finalizes it once.
type Session struct {
	m     *Manager
	file  *os.File
	hw    *hashingWriter
	w     *Writer
	feed  *Feed // nil without a Hub; set before Start returns
	sftp  *sftpParser
	start time.Time // m.now() at start, carrying the monotonic reading

	bytesIn, bytesOut atomic.Int64

	mu       sync.Mutex // guards rec, failErr, closed and closeErr
	rec      Record
	failErr  error
	closed   bool
	closeErr error
}

// hashingWriter writes to the file and hashes exactly the bytes written.
type hashingWriter struct {
	f io.Writer
	h hash.Hash
	n int64
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.f.Write(p)
	if err != nil && n > 0 {
		// A full disk can take part of a line. Cut the file back to the
		// last whole line, so that strict readers (asciinema 2.2) still
		// read it and the hash covers what stays; the error is reported.
		if f, ok := hw.f.(*os.File); ok && f.Truncate(hw.n) == nil {
			n = 0
			_, _ = f.Seek(hw.n, io.SeekStart) // nothing more is written after an error
		}
	}
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

func newSession(m *Manager, info SessionInfo, f *os.File, rel string) *Session {
	s := &Session{m: m, file: f, hw: &hashingWriter{f: f, h: sha256.New()}, start: m.now()}
	s.rec = Record{SessionInfo: info, Title: Title(info), Path: rel, Status: StatusActive}
	return s
}

// open writes the header, tells the Index and goes live.
func (s *Session) open(ctx context.Context) error {
	info := s.rec.SessionInfo
	opt := WriterOptions{
		Clock:         func() time.Duration { return s.m.now().Sub(s.start) },
		FlushInterval: s.m.o.FlushInterval,
		// Without a PTY the stream may be a pipe of anything (tar, scp -t):
		// binary runs are summarized, text is still recorded exactly.
		SummarizeBinary: !info.PTY,
		OnEvent:         s.publish,
	}
	w, err := NewWriter(s.hw, header(info), opt)
	if err != nil {
		return err
	}
	s.w = w
	if info.Kind == KindSFTP {
		s.sftp = newSFTPParser(func(label string) { _ = s.record(s.w.Marker(label)) })
	}
	if s.m.o.Index != nil {
		if err := s.m.o.Index.Started(ctx, s.Record()); err != nil {
			return fmt.Errorf("index: %w", err)
		}
	}
	if s.m.o.Hub != nil {
		feed, err := s.m.o.Hub.Publish(info.ID, s)
		if err != nil {
			s.m.log.Warn("recording not offered live", "session_id", info.ID, "err", err)
		}
		s.feed = feed
	}
	return nil
}

// publish is the Writer's OnEvent: it runs under the Writer's lock.
func (s *Session) publish(ev Event) {
	if s.feed != nil {
		s.feed.Send(ev)
	}
}

// Snapshot implements Source for the Hub: the file as flushed at the
// moment attach runs, read through a separate descriptor.
func (s *Session) Snapshot(attach func()) (io.ReadCloser, error) {
	var off int64
	if err := s.w.Snapshot(func(o int64) { off = o; attach() }); err != nil {
		return nil, err
	}
	f, err := s.m.o.Dir.Open(s.rec.Path)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, off), f}, nil
}

// ID returns the recording id.
func (s *Session) ID() string { return s.rec.ID }

// Record returns a copy of the recording's metadata as of now.
func (s *Session) Record() Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rec
	r.BytesIn, r.BytesOut = s.bytesIn.Load(), s.bytesOut.Load()
	return r
}

// Output records bytes the admin's client received (counted always; an
// sftp session's data is not recorded).
func (s *Session) Output(p []byte) error {
	s.bytesOut.Add(int64(len(p)))
	if err := s.failed(); err != nil || s.sftp != nil {
		return err
	}
	return s.record(s.w.Output(p))
}

// Input records bytes the admin sent: counted always, written as "i"
// events only with RecordInput, parsed for file operations in sftp.
func (s *Session) Input(p []byte) error {
	s.bytesIn.Add(int64(len(p)))
	if err := s.failed(); err != nil {
		return err
	}
	if s.sftp != nil {
		s.sftp.feed(p)
		return s.failed()
	}
	if !s.m.o.RecordInput {
		return nil
	}
	return s.record(s.w.Input(p))
}

// Resize records a window change.
func (s *Session) Resize(width, height int) error {
	if err := s.failed(); err != nil || s.sftp != nil {
		return err
	}
	return s.record(s.w.Resize(width, height))
}

func (s *Session) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failErr
}

// record notes err as the recording's failure (the first one wins).
func (s *Session) record(err error) error {
	if err == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failErr == nil {
		s.failErr = err
		s.m.log.Error("recording failed", "session_id", s.rec.ID, "err", err)
	}
	return s.failErr
}

// Close finalizes the recording: trailing events, flush, fsync, close,
// end of the live feed, SHA-256 and size, and Index.Finished (with ctx).
// It is idempotent: later calls return the first call's result.
func (s *Session) Close(ctx context.Context, exit Exit) error {
	s.mu.Lock()
	if s.closed {
		defer s.mu.Unlock()
		return s.closeErr
	}
	s.closed = true
	s.mu.Unlock()

	if s.sftp != nil {
		_ = s.record(s.w.Marker("[sftp: " + strconv.FormatInt(s.bytesIn.Load(), 10) + " bytes up, " +
			strconv.FormatInt(s.bytesOut.Load(), 10) + " bytes down]"))
	}
	if err := s.w.Close(exit); err != nil && !errors.Is(err, ErrClosed) {
		_ = s.record(err)
	}
	if err := s.file.Sync(); err != nil {
		_ = s.record(fmt.Errorf("sync recording: %w", err))
	}
	if err := s.file.Close(); err != nil {
		_ = s.record(fmt.Errorf("close recording: %w", err))
	}
	if s.feed != nil {
		s.feed.End()
	}
	rec := s.finish(exit)
	var err error
	if rec.Status == StatusFailed {
		err = fmt.Errorf("recording %s: %s", rec.ID, rec.Error)
	}
	if s.m.o.Index != nil {
		if ierr := s.m.o.Index.Finished(ctx, rec); ierr != nil {
			err = errors.Join(err, fmt.Errorf("index recording %s: %w", rec.ID, ierr))
		}
	}
	s.m.log.Info("recording closed", "session_id", rec.ID, "status", rec.Status,
		"bytes", rec.FileSize, "duration", rec.Duration, "err", rec.Error)
	s.mu.Lock()
	s.closeErr = err
	s.mu.Unlock()
	return err
}

// finish fills the end-of-recording fields and returns the final Record.
func (s *Session) finish(exit Exit) Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.End = s.m.now()
	s.rec.Duration = s.rec.End.Sub(s.start)
	s.rec.Exit = exit
	s.rec.FileSize = s.hw.n
	s.rec.SHA256 = hex.EncodeToString(s.hw.h.Sum(nil))
	s.rec.BytesIn, s.rec.BytesOut = s.bytesIn.Load(), s.bytesOut.Load()
	s.rec.Status = StatusFinished
	if s.failErr != nil {
		s.rec.Status, s.rec.Error = StatusFailed, s.failErr.Error()
	}
	return s.rec
}
