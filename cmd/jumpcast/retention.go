package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
)

// retentionEvery is how often the purge job runs (and once at start).
const retentionEvery = 10 * time.Minute

// retentionLoop applies recording.max_age and recording.max_total_size
// until ctx ends. It is a no-op when neither is set.
func (p *program) retentionLoop(ctx context.Context) {
	p.repeat(ctx, retentionEvery, "retention purge", func() error { return p.purge(ctx, time.Now()) })
}

// repeat runs pass at once, then every d, until ctx ends, logging the
// errors it returns while ctx lasts as what.
func (p *program) repeat(ctx context.Context, d time.Duration, what string, pass func() error) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		if err := pass(); err != nil && ctx.Err() == nil {
			p.log.Error(what, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// purge removes recordings past the retention limits: the files first,
// then their index rows in one batch, then one audit event per recording.
// The store hands out at most store.MaxPurgeBatch candidates at a time, so
// it loops until none are left.
func (p *program) purge(ctx context.Context, now time.Time) error {
	p.mu.Lock()
	rc := p.cfg.Recording
	p.mu.Unlock()
	if rc.MaxAge == 0 && rc.MaxTotalSize == 0 {
		return nil
	}
	for ctx.Err() == nil {
		cands, err := p.bastion.Store.PurgeCandidates(ctx, now, rc.MaxAge, int64(rc.MaxTotalSize))
		if err != nil || len(cands) == 0 {
			return err
		}
		ids := make([]string, 0, len(cands))
		var rmErr error
		for _, r := range cands {
			if err := p.bastion.Files.Remove(ctx, r.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				// Keep this row and stop: a file we cannot remove must stay
				// findable, and the next run would only fail on it again.
				rmErr = fmt.Errorf("remove %s: %w", r.ID, err)
				break
			}
			ids = append(ids, r.ID)
		}
		if _, err := p.bastion.Store.DeleteRecordings(ctx, ids); err != nil {
			return err
		}
		for _, r := range cands[:len(ids)] {
			p.auditPurge(ctx, r, rc.MaxAge.String(), rc.MaxTotalSize.String())
		}
		if rmErr != nil {
			return rmErr
		}
	}
	return ctx.Err()
}

func (p *program) auditPurge(ctx context.Context, r recording.Meta, maxAge, maxTotal string) {
	who := audit.Who{User: r.User, Target: r.TargetAlias, RemoteUser: r.RemoteUser}
	_ = p.bastion.Audit.AppendAudit(ctx, audit.Purged(who, r.ID, r.FileSize, r.Start, maxAge, maxTotal))
	p.log.Info("recording purged", "session_id", r.ID, "user", r.User, "bytes", r.FileSize)
}
