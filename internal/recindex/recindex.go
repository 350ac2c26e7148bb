// Package recindex joins the recorder and the store, the two packages that
// must not import each other: the recorder's Index written onto the
// index (either backend), and the crash recovery of recordings a killed server left active
// (the store's rows, the recorder's files). internal/bastion wires both,
// for the binary, the fault tests and the benchmark alike. Both sides speak
// recording.Meta, so nothing here converts a row.
package recindex

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/castfile"
	"github.com/jumpcast/jumpcast/store"
)

// Rows is what the recorder's Index writes to: the two calls of
// store.Index that a recording makes. Either index backend satisfies it.
type Rows interface {
	CreateRecording(ctx context.Context, r *recording.Meta) error
	FinishRecording(ctx context.Context, r *recording.Meta) error
}

// New returns the recorder's Index written onto the store: one write when
// a recording starts and one when it ends.
func New(st Rows) recorder.Index { return storeIndex{st} }

type storeIndex struct{ st Rows }

func (x storeIndex) Started(ctx context.Context, m recording.Meta) error {
	return x.st.CreateRecording(ctx, &m)
}

func (x storeIndex) Finished(ctx context.Context, m recording.Meta) error {
	return x.st.FinishRecording(ctx, &m)
}

// Recover closes a recording that was active when the server died: its
// end is the time of the file's last complete event, and the file is hashed
// as it is now. A file that ends early (its reader reports
// io.ErrUnexpectedEOF) is summarized as far as it goes. A compressed one
// is first repaired (recorder.Dir.Repair): its cut chunk made whole, its
// index rebuilt from the data.
func Recover(dir *recorder.Dir) store.RecoverFunc {
	return func(r recording.Meta) (store.Recovered, error) {
		var out store.Recovered
		if err := dir.Repair(r.Path); err != nil {
			return out, err
		}
		plain, err := castfile.OpenPlain(dir.Files(), r.Path)
		if err != nil {
			return out, fmt.Errorf("open %s: %w", r.Path, err)
		}
		sum, err := asciicast.Summarize(plain)
		_ = plain.Close()
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return out, fmt.Errorf("read %s: %w", r.Path, err)
		}
		out.End = r.Start.Add(time.Duration(sum.LastEventTime * float64(time.Second)))
		out.ExitStatus = sum.ExitStatus
		f, err := dir.Open(r.Path)
		if err != nil {
			return out, fmt.Errorf("open %s: %w", r.Path, err)
		}
		defer func() { _ = f.Close() }()
		out.SHA256, out.FileSize, err = recorder.HashFile(f)
		return out, err
	}
}

// Lister is the store's listing of recordings (either backend).
type Lister interface {
	ListRecordings(ctx context.Context, f store.Filter) (store.Page, error)
}

// maxKeyframeScan bounds how many recordings, newest first, a start looks
// at for missing keyframes: a start costs one small read per recording.
const maxKeyframeScan = 5000

// QueueKeyframes hands the recorder's background indexer the closed
// compressed recordings of node (the rows this node recorded, or that
// name no node, whose files are in dir) that lack keyframes, newest first, until its queue is full
// (recorder.QueueKeyframes): recordings closed while the queue was full or
// the server stopped, and those Recover repaired. It returns how many it
// queued.
func QueueKeyframes(ctx context.Context, st Lister, dir *recorder.Dir, node string, log *slog.Logger) (int, error) {
	f := store.Filter{Limit: 500}
	queued, seen := 0, 0
	for seen < maxKeyframeScan {
		page, err := st.ListRecordings(ctx, f)
		if err != nil {
			return queued, fmt.Errorf("list recordings: %w", err)
		}
		var rels []string
		for _, r := range page.Items {
			// A row without a node is a single node's from before rows
			// named one: its files are here too.
			if r.Status != recording.StatusActive && (r.Node == node || r.Node == "") && castfile.Compressed(r.Path) {
				rels = append(rels, r.Path)
			}
		}
		seen += len(page.Items)
		n, full := recorder.QueueKeyframes(dir, rels, log)
		queued += n
		if full || page.Next == "" {
			return queued, nil
		}
		f.Cursor = page.Next
	}
	return queued, nil
}
