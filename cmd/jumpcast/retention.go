package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jumpcast/jumpcast/store"
)

// retentionEvery is how often the purge job runs (and once at start).
const retentionEvery = 10 * time.Minute

// retentionLoop applies recording.max_age and recording.max_total_size
// until ctx ends. It is a no-op when neither is set.
func (p *program) retentionLoop(ctx context.Context) {
	t := time.NewTicker(retentionEvery)
	defer t.Stop()
	for {
		if err := p.purge(ctx, time.Now()); err != nil && ctx.Err() == nil {
			p.log.Error("retention purge", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// purge removes recordings past the retention limits: the file first, then
// the index row, then one audit event per recording.
func (p *program) purge(ctx context.Context, now time.Time) error {
	p.mu.Lock()
	rc := p.cfg.Recording
	p.mu.Unlock()
	if rc.MaxAge == 0 && rc.MaxTotalSize == 0 {
		return nil
	}
	cands, err := p.store.PurgeCandidates(ctx, now, rc.MaxAge, int64(rc.MaxTotalSize))
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range cands {
		if err := p.dir.Remove(r.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove %s: %w", r.ID, err))
			continue
		}
		if err := p.store.DeleteRecording(ctx, r.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		_ = p.store.AppendAudit(ctx, store.AuditEvent{
			Kind: "purge", Outcome: "ok", User: r.User, SessionID: r.ID,
			Target: r.TargetAlias, RemoteUser: r.RemoteUser,
			Reason: fmt.Sprintf("retention (max_age %s, max_total_size %s)", rc.MaxAge, rc.MaxTotalSize),
			Detail: map[string]string{"bytes": fmt.Sprint(r.FileSize), "start": r.Start.UTC().Format(time.RFC3339)},
		})
		p.log.Info("recording purged", "session_id", r.ID, "user", r.User, "bytes", r.FileSize)
	}
	return errors.Join(errs...)
}
