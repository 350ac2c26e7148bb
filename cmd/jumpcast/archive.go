package main

import (
	"context"
	"time"

	"github.com/jumpcast/jumpcast/internal/bastion"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/castfile"
	"github.com/jumpcast/jumpcast/store"
)

// archiveEvery is how often serve looks for recordings to archive (and
// once at start).
const archiveEvery = 10 * time.Minute

// archiveLoop archives this node's closed recordings recording.archive_after
// after they end (archivePass), until ctx ends. It does nothing while
// archive_after is off or recordings go to a bucket.
func (p *program) archiveLoop(ctx context.Context) {
	var since time.Time
	p.repeat(ctx, archiveEvery, "archiving recordings", func() error { return p.archivePass(ctx, &since, time.Now()) })
}

// archivePass archives, one at a time and oldest first, the compressed
// recordings of this node that started at or after *since and ended
// archive_after before now, once the background indexer has put their
// keyframes in their index. *since then moves to the start of the oldest
// recording left for a later pass (still recording, ended too recently,
// not indexed yet), so that a pass reads only the rows since then. A
// recording that cannot be archived is logged and not tried again until
// the next start.
func (p *program) archivePass(ctx context.Context, since *time.Time, now time.Time) error {
	p.mu.Lock()
	rc, node := p.cfg.Recording, p.cfg.Node()
	p.mu.Unlock()
	delay, on := rc.ArchiveDelay()
	dir := p.bastion.Dir
	if !on || dir == nil {
		return nil
	}
	cutoff := now.Add(-delay)
	f := store.Filter{Since: *since, Until: cutoff, Asc: true, Limit: 500}
	next := cutoff
	for ctx.Err() == nil {
		page, err := p.bastion.Store.ListRecordings(ctx, f)
		if err != nil {
			return err
		}
		for _, r := range page.Items {
			if ctx.Err() != nil {
				break
			}
			if r.Node != node && r.Node != "" || r.Location != recording.LocationNode ||
				!castfile.Compressed(r.Path) || castfile.Archived(r.Path) {
				continue
			}
			if r.Status == recording.StatusActive || r.End.IsZero() || r.End.After(cutoff) || !castfile.Indexed(dir.Files(), r.Path) {
				if r.Start.Before(next) {
					next = r.Start
				}
				continue
			}
			res, err := bastion.ArchiveRecording(ctx, p.bastion.Store, dir, p.bastion.Audit, r)
			if err != nil {
				p.log.Warn("recording not archived", "session_id", r.ID, "err", err)
				continue
			}
			if res.Done {
				p.log.Info("recording archived", "session_id", r.ID, "bytes_before", res.WasSize, "bytes", res.Size, "path", res.Path)
			}
		}
		if page.Next == "" {
			break
		}
		f.Cursor = page.Next
	}
	if ctx.Err() == nil {
		*since = next
	}
	return ctx.Err()
}
