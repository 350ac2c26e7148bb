package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/bastion"
	"github.com/jumpcast/jumpcast/internal/metrics"
	"github.com/jumpcast/jumpcast/store"
)

// Operations wiring: metrics, health probes and the optional
// unauthenticated metrics listener.

// newHealth builds the probes: the data and recordings folders must take
// files (both probes); the index must answer and the recordings disk stay
// above recording.min_free_space (readiness).
func newHealth(cfg *config.Config, b *bastion.Bastion, logger *slog.Logger) *metrics.Health {
	st, dir := b.Store, b.Dir
	return metrics.NewHealth(metrics.HealthOptions{
		Spool:      b.SpoolBytes,
		SpoolAlert: int64(cfg.Recording.S3.SpoolAlert),
		Writable: []metrics.Folder{
			{Name: "data folder", Path: cfg.DataDir},
			{Name: "recordings folder", Path: bastion.RecordingsPath(cfg)},
		},
		Store: func(ctx context.Context) error {
			_, err := st.Version(ctx)
			return err
		},
		FreeSpace:    dir.FreeSpace,
		MinFreeSpace: uint64(cfg.Recording.MinFreeSpace),
		Logger:       logger,
		Reuse:        time.Second, // /healthz is anonymous: at most one disk probe a second
	})
}

// listenOps opens metrics.listen, when set: /metrics, /healthz and
// /readyz without authentication, for loopback or a scrape network.
func (p *program) listenOps() error {
	addr := p.cfg.Metrics.Listen
	if addr == "" {
		return nil
	}
	var err error
	if p.opsLn, err = net.Listen("tcp", addr); err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	p.ops = &http.Server{
		Handler:           metrics.OpsHandler(p.bastion.Metrics, p.health),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
	return nil
}

// auditedStore is the store as the web site sees it, with its audit
// events (web logins, playbacks) counted in metrics on the way in.
type auditedStore struct {
	store.Index
	audit audit.Sink
}

func (s auditedStore) AppendAudit(ctx context.Context, ev audit.Event) error {
	return s.audit.AppendAudit(ctx, ev)
}
