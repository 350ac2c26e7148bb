package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/bastion"
	"github.com/jumpcast/jumpcast/internal/metrics"
	"github.com/jumpcast/jumpcast/internal/proxyprotocol"
	"github.com/jumpcast/jumpcast/proxy"
	"github.com/jumpcast/jumpcast/replayweb"
)

// program is a running jumpcast serve: the bastion (SSH proxy, recorder,
// index, metrics and audit sink, wired by package bastion), and around it
// the listeners, the web site, the metrics listener and the admin socket.
// newProgram opens and listens; Run serves until its context ends; Close
// releases everything.
type program struct {
	cfgPath string // "" when running on embedded defaults (SIGHUP then has nothing to reload)
	log     *slog.Logger

	mu  sync.Mutex // guards cfg across SIGHUP reloads
	cfg *config.Config

	bastion *bastion.Bastion // nil only while newProgram fails before it
	cluster clusterNode      // the internal listener and client (cluster.listen); zero without
	locks   *lockKeeper      // access locks, for the admin socket and the web site
	health  *metrics.Health
	web     *http.Server // nil when web.listen is empty
	ops     *http.Server // nil when metrics.listen is empty

	sshLn, webLn, adminLn, opsLn net.Listener
	admin                        *http.Server
}

// socketPath is the admin socket, in the data folder.
func socketPath(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "admin.sock") }

func newProgram(cfg *config.Config, cfgPath string, logger *slog.Logger) (_ *program, err error) {
	// p is not the named result: every "return nil, err" would nil it
	// before the deferred Close ran (a panic on any startup error).
	p := &program{cfg: cfg, cfgPath: cfgPath, log: logger}
	logDeprecated(logger, cfg)
	defer func() {
		if err != nil {
			_ = p.Close()
		}
	}()
	advertise, err := p.listenCluster()
	if err != nil {
		return nil, err
	}
	if p.bastion, err = bastion.New(cfg, bastion.Options{Logger: logger, Version: version, Advertise: advertise,
		IndexCommand: keyframeChild}); err != nil {
		return nil, err
	}
	p.startCluster()
	p.health = newHealth(cfg, p.bastion, logger)
	p.locks = &lockKeeper{st: p.bastion.Store, audit: p.bastion.Audit, apply: p.bastion.Proxy.ApplyLocks, now: time.Now}
	if p.sshLn, err = listenTCP(cfg.SSH.Listen, cfg.SSH.ProxyProtocolFrom); err != nil {
		return nil, fmt.Errorf("ssh listener: %w", err)
	}
	if err := p.listenWeb(); err != nil {
		return nil, err
	}
	if err := p.listenOps(); err != nil {
		return nil, err
	}
	if err := p.listenAdmin(); err != nil {
		return nil, err
	}
	return p, nil
}

// logDeprecated warns of each key the config file writes in a form that
// still loads but will not always (config.Config.Deprecated).
func logDeprecated(log *slog.Logger, cfg *config.Config) {
	for _, note := range cfg.Deprecated {
		log.Warn("config: " + note)
	}
}

func (p *program) listenWeb() error {
	cfg := p.cfg
	if cfg.Web.Listen == "" {
		return nil
	}
	sso, err := ssoOptions(cfg.Web.OIDC)
	if err != nil {
		return err
	}
	site, err := replayweb.New(replayweb.Options{
		Store:          auditedStore{Index: p.bastion.Store, audit: p.bastion.Audit},
		Recordings:     p.bastion.Files,
		Live:           p.bastion.Hub,
		Logger:         p.log,
		TrustedProxies: cfg.Web.TrustedProxies,
		LoginTTL:       cfg.Web.SessionTTL, // web.session_ttl: how long a web login lasts
		Secure:         cfg.Web.TLSCert != "",
		SSHHint:        sshHint(p.sshLn.Addr().String(), "user", "target"),
		Metrics:        p.bastion.Metrics.Handler(),
		Health:         p.health.Live,
		Ready:          p.health.Ready,
		EndSession:     p.ender(false),
		EndConnection:  p.ender(true),
		Locks:          p.locks,
		Node:           cfg.Node(),
		Remote:         remoteLive(p.cluster.client),
		OIDC:           sso,

		DisablePasswordLogin: cfg.Web.DisablePasswordLogin,
		BreakGlass:           cfg.Web.BreakGlass,
		RequireSecondFactor:  cfg.Web.RequireSecondFactor,
		PublicURL:            cfg.Web.PublicURL,
		Terminal:             webTerminal(cfg, p.bastion),
	})
	if err != nil {
		return fmt.Errorf("web site: %w", err)
	}
	if p.webLn, err = listenTCP(cfg.Web.Listen, cfg.Web.ProxyProtocolFrom); err != nil {
		return fmt.Errorf("web listener: %w", err)
	}
	p.web = &http.Server{
		Handler:           site.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
	return nil
}

// listenTCP listens on addr; with balancer CIDRs, connections from them
// carry the client's address in a PROXY protocol header
// (internal/proxyprotocol).
func listenTCP(addr string, proxyFrom []string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	wrapped, err := proxyprotocol.Listen(ln, proxyFrom)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	return wrapped, nil
}

// Run serves until ctx is done, then shuts down: the SSH side stops
// accepting and gives sessions the configured grace period, recordings are
// finalized, and the database is closed by Close. SIGHUP reloads policy.
func (p *program) Run(ctx context.Context) error {
	errc := make(chan error, 5) // one slot per server goroutine below (ssh, web, admin, ops, cluster)
	go func() { errc <- p.bastion.Proxy.Serve(p.sshLn) }()
	if p.web != nil {
		go func() {
			var err error
			if p.cfg.Web.TLSCert != "" {
				err = p.web.ServeTLS(p.webLn, p.cfg.Web.TLSCert, p.cfg.Web.TLSKey)
			} else {
				err = p.web.Serve(p.webLn)
			}
			errc <- err
		}()
	}
	go func() { errc <- p.admin.Serve(p.adminLn) }()
	if p.ops != nil {
		go func() { errc <- p.ops.Serve(p.opsLn) }()
	}
	if p.cluster.srv != nil {
		go func() { errc <- p.cluster.srv.Serve(p.cluster.ln) }()
	}
	go p.retentionLoop(ctx)
	go p.archiveLoop(ctx) // owner: Run; ends with ctx
	// owner: Run; ends with ctx, which the caller cancels to stop Run.
	go bastion.RunMemoryBudget(ctx, p.cfg, p.bastion.Proxy.ActiveSessions, p.log)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	p.log.Info("jumpcast started", "version", version, "ssh", p.sshLn.Addr().String(),
		"web", webAddr(p.webLn), "metrics", webAddr(p.opsLn), "cluster", p.cluster.addr(), "node", p.cfg.Node(), "data_dir", p.cfg.DataDir)
	for {
		select {
		case <-hup:
			p.reload()
		case err := <-errc:
			if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, proxy.ErrServerClosed) {
				p.shutdown()
				return err
			}
		case <-ctx.Done():
			p.shutdown()
			return nil
		}
	}
}

// webURL is the web site's address as configured, for messages: https
// under TLS, "localhost" for an all-interfaces listen address. It is ""
// when the web site is off or its port is chosen at start (":0").
func webURL(cfg *config.Config) string {
	return webURLFor(cfg.Web.Listen, cfg.Web.TLSCert != "")
}

// webURLFor is the site's address for a listen address ("" when the port
// is chosen at start), with localhost for an unspecified host.
func webURLFor(listen string, tls bool) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "0" {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/"
}

func webAddr(l net.Listener) string {
	if l == nil {
		return "off"
	}
	return l.Addr().String()
}

// reload re-reads the config file and swaps the policy; open sessions go on.
func (p *program) reload() {
	if p.cfgPath == "" {
		p.log.Info("SIGHUP: running on embedded defaults, nothing to reload")
		return
	}
	cfg, err := config.Load(p.cfgPath)
	if err != nil {
		p.log.Error("SIGHUP: config not reloaded", "err", err)
		return
	}
	logDeprecated(p.log, cfg)
	p.mu.Lock()
	cfg.DataDir = p.cfg.DataDir // the data folder cannot move under a running server
	p.mu.Unlock()
	if err := p.bastion.Proxy.Reload(cfg); err != nil {
		p.log.Error("SIGHUP: policy not reloaded", "err", err)
		return
	}
	p.mu.Lock()
	p.cfg = cfg
	p.mu.Unlock()
	p.log.Info("SIGHUP: policy reloaded", "users", len(cfg.Users), "targets", len(cfg.Targets))
}

// shutdown stops accepting, gives SSH sessions the grace period, then
// closes them (which finalizes their recordings).
func (p *program) shutdown() {
	grace := p.cfg.SSH.ShutdownGrace
	p.log.Info("shutting down", "grace", grace.String(), "active_sessions", p.bastion.Proxy.ActiveSessions())
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := p.bastion.Proxy.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		p.log.Warn("ssh shutdown", "err", err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer wcancel()
	if p.web != nil {
		_ = p.web.Shutdown(wctx) // SSE streams end with their sessions; the rest are short requests
	}
	_ = p.admin.Shutdown(wctx)
	if p.cluster.srv != nil {
		_ = p.cluster.srv.Shutdown(wctx) // forwarded live streams end with their sessions
	}
	if p.ops != nil {
		_ = p.ops.Shutdown(wctx)
	}
}

// Close releases everything newProgram opened, in this order: the SSH
// side (open sessions end and their recordings are finalized), the
// listeners and servers around it, then the bastion's recordings folder
// and index. It is safe on a partly built program.
func (p *program) Close() error {
	var errs []error
	if p.bastion != nil && p.bastion.Proxy != nil {
		errs = append(errs, p.bastion.Proxy.Close())
	}
	for _, l := range []net.Listener{p.sshLn, p.webLn, p.adminLn, p.opsLn, p.cluster.ln} {
		if l != nil {
			_ = l.Close() // already closed by Shutdown in the normal path
		}
	}
	if p.web != nil {
		_ = p.web.Close()
	}
	if p.admin != nil {
		_ = p.admin.Close()
	}
	if p.cluster.srv != nil {
		_ = p.cluster.srv.Close()
	}
	if p.ops != nil {
		_ = p.ops.Close()
	}
	if p.bastion != nil {
		errs = append(errs, p.bastion.Close()) // the proxy again (a no-op), the folder, the index
	}
	return errors.Join(errs...)
}
