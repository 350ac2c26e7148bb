// Command jumpcast-norec is a benchmark-only bastion: jumpcast's proxy
// package driven by the same config file as `jumpcast serve`, but wired with
// proxy.NopRecorder, so that the harness in bench/cmd/jumpcast-bench can
// measure what recording costs. It is not shipped and not a product mode:
// the product has no way to switch recording off.
//
// Compared with `jumpcast serve` it leaves out exactly the recording side
// (recorder.Manager, the live hub, the recordings index writes) and the two
// idle listeners that play no part in proxying (the web site and the admin
// socket). The SSH server, policy, audit events in bbolt, upstream dial,
// host-key pinning and the bridge are the product's own code.
//
// Usage:
//
//	jumpcast-norec -c jumpcast.yaml
//
// ssh.host_keys must be set (this program does not generate a host key). On
// start it prints "jumpcast-norec: SSH on HOST:PORT, web on off, data in DIR",
// the same shape as jumpcast's welcome line. SIGTERM or SIGINT stop it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/sshkey"
	"github.com/jumpcast/jumpcast/proxy"
	"github.com/jumpcast/jumpcast/store"
)

func main() {
	cfgPath := flag.String("c", "", "config file (required)")
	flag.Parse()
	if err := run(*cfgPath); err != nil {
		fmt.Fprintln(os.Stderr, "jumpcast-norec:", err)
		os.Exit(1)
	}
}

func run(cfgPath string) error {
	if cfgPath == "" {
		return errors.New("-c FILE is required")
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	if len(cfg.SSH.HostKeys) == 0 {
		return errors.New("ssh.host_keys must be set")
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level)) // validated by config.Load
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	hostKeys, err := loadSigners(cfg.SSH.HostKeys)
	if err != nil {
		return fmt.Errorf("ssh.host_keys: %w", err)
	}
	ids, err := sshkey.ReadAll(cfg.Upstream.IdentityFiles)
	if err != nil {
		return fmt.Errorf("upstream.identity_files: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, "jumpcast.db"), store.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	srv, err := proxy.New(proxy.Options{
		Config:          cfg,
		HostSigners:     hostKeys,
		Recorder:        proxy.NopRecorder{},
		Audit:           st,
		Logger:          logger,
		KnownHostsPath:  filepath.Join(cfg.DataDir, "known_hosts"),
		IdentitySigners: ids,
	})
	if err != nil {
		return err
	}
	defer func() { _ = srv.Close() }()
	ln, err := net.Listen("tcp", cfg.SSH.Listen)
	if err != nil {
		return fmt.Errorf("ssh listener: %w", err)
	}
	fmt.Printf("jumpcast-norec: SSH on %s, web on off, data in %s\n", ln.Addr(), cfg.DataDir)
	return serve(srv, ln, cfg.SSH.ShutdownGrace)
}

// serve runs srv on ln until SIGTERM/SIGINT, then shuts down with grace.
func serve(srv *proxy.Server, ln net.Listener, grace time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1) // the Serve goroutine's only result
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, proxy.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// loadSigners reads unencrypted private keys (any format x/crypto parses).
func loadSigners(paths []string) ([]gossh.Signer, error) {
	var out []gossh.Signer
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		s, err := gossh.ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", p, err)
		}
		out = append(out, s)
	}
	return out, nil
}
