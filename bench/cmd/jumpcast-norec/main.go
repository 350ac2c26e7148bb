// Command jumpcast-norec is a benchmark-only bastion: jumpcast's SSH side
// built by bastion.New from the same config file as `jumpcast serve`, with
// bastion.Options.NoRecording (proxy.NopRecorder in place of the recorder),
// so that the harness in bench/cmd/jumpcast-bench can measure what
// recording costs. It is not shipped and not a product mode: the product
// has no way to switch recording off.
//
// Compared with `jumpcast serve` it leaves out exactly the recording side
// (the recordings folder, recorder.Manager, the live hub, the recordings
// index writes) and the listeners that play no part in proxying (the web
// site, the metrics listener and the admin socket). The SSH server,
// policy, host and identity keys, audit events (logged, counted and stored
// in bbolt), upstream dial, host-key pinning and the bridge are the
// product's own code, wired by the same function.
//
// Usage:
//
//	jumpcast-norec -c jumpcast.yaml
//
// On start it prints "jumpcast-norec: SSH on HOST:PORT, web on off, data in
// DIR", the same shape as jumpcast's welcome line. SIGTERM or SIGINT stop
// it.
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
	"syscall"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/bastion"
	"github.com/jumpcast/jumpcast/proxy"
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
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level)) // validated by config.Load
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	b, err := bastion.New(cfg, bastion.Options{Logger: logger, NoRecording: true})
	if err != nil {
		return err
	}
	defer func() { _ = b.Close() }()
	ln, err := net.Listen("tcp", cfg.SSH.Listen)
	if err != nil {
		return fmt.Errorf("ssh listener: %w", err)
	}
	// The same memory budget as jumpcast serve, so that rec/norec compare
	// recording and nothing else.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go bastion.RunMemoryBudget(ctx, cfg, b.Proxy.ActiveSessions, logger) // owner: run; ends with ctx
	fmt.Printf("jumpcast-norec: SSH on %s, web on off, data in %s\n", ln.Addr(), cfg.DataDir)
	return serve(b.Proxy, ln, cfg.SSH.ShutdownGrace)
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
