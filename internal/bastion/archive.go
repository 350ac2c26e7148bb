package bastion

import (
	"context"
	"fmt"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/castfile"
	"github.com/jumpcast/jumpcast/store"
)

// Archived is what ArchiveRecording did.
type Archived struct {
	Done    bool   // converted, index updated, old file removed
	Skipped string // why nothing was done (already archived, still recording, in the bucket)
	Path    string // the archived file
	WasSize int64  // the size of the file before
	Size    int64  // the archived file's size
}

// ArchiveRecording brings the closed recording r to the archived format:
// a raw one is first converted to the compressed format
// (recorder.Dir.Compact), a compressed one then archived
// (recorder.Dir.Archive). After each step the index names the new file,
// with its size and SHA-256, the old file is removed, and an archive
// audit event says what was replaced by what.
func ArchiveRecording(ctx context.Context, st store.Index, dir *recorder.Dir, sink audit.Sink, r recording.Meta) (Archived, error) {
	var res Archived
	switch {
	case r.Status == recording.StatusActive:
		res.Skipped = "still being recorded"
		return res, nil
	case castfile.Archived(r.Path):
		res.Skipped = "already archived"
		return res, nil
	case r.Location != recording.LocationNode:
		res.Skipped = "in the shared bucket"
		return res, nil
	}
	res.WasSize = r.FileSize
	for !castfile.Archived(r.Path) {
		var c recorder.Compacted
		var err error
		if castfile.Compressed(r.Path) {
			c, err = dir.Archive(r.ID, r.Path)
		} else {
			c, err = dir.Compact(r.ID, r.Path, r.SHA256)
		}
		if err != nil {
			return res, err
		}
		was := r
		r.Path, r.FileSize, r.SHA256 = c.Path, c.Size, c.SHA256
		if err := st.FinishRecording(ctx, &r); err != nil {
			_ = dir.Remove(c.Path)
			return res, err
		}
		who := audit.Who{User: r.User, Target: r.TargetAlias, RemoteUser: r.RemoteUser}
		_ = sink.AppendAudit(ctx, audit.Archived(who, r.ID, was.FileSize, was.SHA256, c.Size, c.SHA256, c.Plain))
		if err := dir.Remove(was.Path); err != nil {
			return res, fmt.Errorf("compacted, but %s stays: %w", was.Path, err)
		}
		res.Path, res.Size = c.Path, c.Size
	}
	res.Done = true
	return res, nil
}
