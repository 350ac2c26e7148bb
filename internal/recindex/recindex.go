// Package recindex joins the recorder and the store: the recorder's Index
// written onto the bbolt index, and the crash recovery of recordings a
// killed server left active. cmd/jumpcast wires both; the fault tests use
// the same code rather than a copy.
package recindex

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/store"
)

// New returns the recorder's Index written onto the bbolt store: one
// write when a recording starts and one when it ends.
func New(st *store.Store) recorder.Index { return storeIndex{st} }

type storeIndex struct{ st *store.Store }

func (x storeIndex) Started(ctx context.Context, r recorder.Record) error {
	return x.st.CreateRecording(ctx, toStoreRecording(r))
}

func (x storeIndex) Finished(ctx context.Context, r recorder.Record) error {
	return x.st.FinishRecording(ctx, toStoreRecording(r))
}

func toStoreRecording(r recorder.Record) *store.Recording {
	rec := &store.Recording{
		ID:             r.ID,
		User:           r.User,
		KeyFingerprint: r.KeyFingerprint,
		RemoteUser:     r.RemoteUser,
		TargetAlias:    r.TargetAlias,
		TargetAddr:     r.TargetAddr,
		ClientAddr:     r.ClientAddr,
		Kind:           r.Kind,
		Command:        r.Command,
		Title:          r.Title,
		Term:           r.Term,
		Width:          r.Width,
		Height:         r.Height,
		Start:          r.Start,
		End:            r.End,
		Duration:       r.Duration,
		BytesIn:        r.BytesIn,
		BytesOut:       r.BytesOut,
		FileSize:       r.FileSize,
		ExitSignal:     r.Exit.Signal,
		Status:         r.Status,
		Error:          r.Error,
		Path:           r.Path,
		SHA256:         r.SHA256,
	}
	if r.Exit.HasStatus {
		st := r.Exit.Status
		rec.ExitStatus = &st
	}
	return rec
}

// Recover closes a recording that was active when the server died: its
// end is the time of the file's last complete event, and the file is hashed
// as it is now.
func Recover(dir *recorder.Dir) store.RecoverFunc {
	return func(r store.Recording) (store.Recovered, error) {
		var out store.Recovered
		f, err := dir.Open(r.Path)
		if err != nil {
			return out, fmt.Errorf("open %s: %w", r.Path, err)
		}
		defer func() { _ = f.Close() }()
		sum, err := recorder.Summarize(f)
		if err != nil && !strings.Contains(err.Error(), "EOF") {
			return out, fmt.Errorf("read %s: %w", r.Path, err)
		}
		out.End = r.Start.Add(time.Duration(sum.LastEventTime * float64(time.Second)))
		out.ExitStatus = sum.ExitStatus
		if _, err := f.Seek(0, 0); err != nil {
			return out, err
		}
		out.SHA256, out.FileSize, err = recorder.HashFile(f)
		return out, err
	}
}
