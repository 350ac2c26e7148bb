package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gliderlabs/ssh"
	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/lock"
	"github.com/jumpcast/jumpcast/internal/sshkey"
	gossh "golang.org/x/crypto/ssh"
)

// Options configures New.
type Options struct {
	// Config is the policy, targets, timeouts and limits, already defaulted
	// and validated. Required. Reload replaces it.
	Config *config.Config
	// HostSigners are the bastion's host keys. Required.
	HostSigners []gossh.Signer
	// Recorder receives every session. Nil means NopRecorder.
	Recorder Recorder
	// Audit receives audit events (cmd/jumpcast passes the store behind
	// the metrics and log wrappers). Nil means none are stored (they are
	// still logged).
	Audit audit.Sink
	// Logger receives structured logs. Nil discards them.
	Logger *slog.Logger
	// Pins keeps trust-on-first-use host keys (host_key_policy: tofu).
	// Nil disables pinning: under the tofu policy, unknown hosts are then
	// refused.
	Pins Pins
	// IdentitySigners are bastion-held keys for upstream authentication
	// (upstream.identity_files, read by the caller), tried after the
	// admin's forwarded agent and a target's own identity files (which the
	// Server reads itself from Config, at New and at each Reload).
	IdentitySigners []gossh.Signer
	// OnDial, when set, is called once per attempt to connect to a target
	// with how long the TCP connect, SSH handshake and upstream
	// authentication took together (a relayed password prompt counts too)
	// and how it ended: one of the Dial* outcomes. It runs on the
	// session's goroutine and must be quick. Nil means not observed.
	// Taking over a kept connection (upstream.reuse_idle) is reported as
	// DialReused with the time its liveness probe took.
	OnDial func(outcome string, took time.Duration)
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Server is the SSH server admins connect to. It is safe for concurrent
// use; create it with New.
type Server struct {
	log    *slog.Logger
	now    func() time.Time
	rec    Recorder
	audit  audit.Sink
	pins   Pins
	ids    []gossh.Signer
	srv    *ssh.Server
	limits *limiter
	onDial func(outcome string, took time.Duration) // nil: dials are not observed
	pool   *upstreamPool                            // target connections kept for reuse
	// windows is the receive-window credit every session channel, to the
	// targets and from the admins, shares past 64 KiB: it bounds what busy
	// sessions hold in memory (config.MemoryBudget.WindowPool).
	windows *gossh.WindowPool

	snap  atomic.Pointer[snapshot] // current config, policy and keys; swapped by Reload
	locks atomic.Pointer[lock.Set] // access locks in force; swapped by ApplyLocks (nil: none)

	mu       sync.Mutex // guards the fields below
	closing  bool       // Shutdown or Close was called: new sessions are refused
	sessions map[aborter]struct{}
	conns    map[*clientConn]struct{} // authenticated admin connections, until they close
	idle     chan struct{}            // closed and replaced whenever sessions becomes empty

	wg sync.WaitGroup // every session goroutine (bridges, forwards)
}

// snapshot is one consistent view of the configuration, built by New and
// by each Reload and never changed afterwards.
type snapshot struct {
	cfg    *config.Config
	policy *Policy
	keys   *keyIndex
	// targetIDs are the targets' own identity keys
	// (targets.NAME.identity_files) by alias, read from disk when the
	// snapshot is built: a dial never reads a key file, and only a reload
	// reads a changed one. A file that cannot be used was logged then and
	// is left out.
	targetIDs map[string][]gossh.Signer
}

func newSnapshot(cfg *config.Config, log *slog.Logger) *snapshot {
	return &snapshot{cfg: cfg, policy: NewPolicy(cfg), keys: newKeyIndex(cfg), targetIDs: loadTargetIdentities(cfg, log)}
}

// loadTargetIdentities reads every target's identity files. A file that
// cannot be used is logged and skipped, as if it were not listed: the
// target may still be reached with the other keys and methods.
func loadTargetIdentities(cfg *config.Config, log *slog.Logger) map[string][]gossh.Signer {
	out := map[string][]gossh.Signer{}
	for _, alias := range slices.Sorted(maps.Keys(cfg.Targets)) {
		for _, p := range cfg.Targets[alias].IdentityFiles {
			signer, err := sshkey.Read(p)
			if err != nil {
				log.Error("target identity file unusable", "target", alias, "err", err)
				continue
			}
			out[alias] = append(out[alias], signer)
		}
	}
	return out
}

// New checks opts and builds a Server. It does not listen; call Serve.
func New(opts Options) (*Server, error) {
	if opts.Config == nil {
		return nil, errors.New("proxy: Options.Config is required")
	}
	if len(opts.HostSigners) == 0 {
		return nil, errors.New("proxy: at least one host key is required")
	}
	s := &Server{
		log:      opts.Logger,
		now:      opts.Now,
		rec:      opts.Recorder,
		audit:    opts.Audit,
		pins:     opts.Pins,
		onDial:   opts.OnDial,
		ids:      slices.Clone(opts.IdentitySigners),
		sessions: map[aborter]struct{}{},
		conns:    map[*clientConn]struct{}{},
		idle:     make(chan struct{}),
		pool:     newUpstreamPool(),
		windows:  gossh.NewWindowPool(int(opts.Config.MemoryBudget.WindowPool())),
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rec == nil {
		s.rec = NopRecorder{}
	}
	s.limits = newLimiter(s.now)
	s.snap.Store(newSnapshot(opts.Config, s.log))
	s.srv = &ssh.Server{
		Version:              "jumpcast",
		HostSigners:          toGliderSigners(opts.HostSigners),
		IdleTimeout:          opts.Config.SSH.IdleTimeout,
		ConnCallback:         s.onConnect,
		ServerConfigCallback: s.serverConfig,
		PublicKeyHandler:     s.publicKeyOffered,
		Handler:              func(ssh.Session) {}, // never used: "session" is ours
		ChannelHandlers: map[string]ssh.ChannelHandler{
			"session":      s.handleSession,
			"direct-tcpip": s.handleDirectTCPIP,
		},
		RequestHandlers:   map[string]ssh.RequestHandler{}, // every global request is refused
		SubsystemHandlers: map[string]ssh.SubsystemHandler{},
	}
	return s, nil
}

func toGliderSigners(in []gossh.Signer) []ssh.Signer {
	out := make([]ssh.Signer, len(in))
	for i, s := range in {
		out[i] = s
	}
	return out
}

// Serve accepts connections on l until Shutdown or Close, then returns
// ErrServerClosed. Other errors are the listener's.
func (s *Server) Serve(l net.Listener) error {
	err := s.srv.Serve(l)
	if errors.Is(err, ssh.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}

// Reload swaps the configuration: policy, targets, keys and limits apply
// to connections and sessions that start afterwards, and every open
// connection is checked again (see access.go): one whose key is revoked or
// no longer authorized, whose certificate is no longer valid or whose
// target is no longer granted is closed at once, each of its sessions
// told why in one line. The others keep going, and each running session
// keeps what it started with (its recording policy). cfg must be
// defaulted and validated. The targets' identity files are read again
// here (and only here and in New). Listen address, host keys and
// Options.IdentitySigners are not reloaded.
func (s *Server) Reload(cfg *config.Config) error {
	if cfg == nil {
		return errors.New("proxy: reload: nil config")
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("proxy: reload: %w", err)
	}
	snap := newSnapshot(cfg, s.log)
	s.snap.Store(snap)
	// A kept target connection was made under the old policy, keys and
	// host-key settings: none of it may meet the new ones.
	kept := s.pool.flush()
	now := s.now()
	cut := s.closeConnections(func(cc *clientConn) *closing { return cc.recheck(snap, now) })
	s.log.Info("policy reloaded", "users", len(cfg.Users), "targets", len(cfg.Targets),
		"kept_target_connections_closed", kept, "connections_closed", cut)
	return nil
}

// ActiveSessions returns the number of open session and forwarding
// channels.
func (s *Server) ActiveSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Shutdown stops accepting connections and new sessions, lets open
// sessions run until they end or ctx is done, then tells each remaining
// admin "jumpcast: bastion shutting down", closes every connection and
// waits (briefly) for recordings to be finalized. It returns ctx.Err() when
// sessions had to be cut short.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	// Closes the listeners; an already-done context returns at once
	// instead of waiting for connections (gliderlabs waits forever).
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.srv.Shutdown(done)

	err := s.waitIdle(ctx)
	s.abortSessions(audit.ReasonShutdown)
	// Let the aborted sessions deliver their message and exit status
	// before the connections go.
	grace, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = s.waitIdle(grace)
	cancel()
	return errors.Join(err, s.Close())
}

// waitIdle waits until no session is open. It returns ctx.Err() when ctx
// is done first, nil once the last session has ended.
func (s *Server) waitIdle(ctx context.Context) error {
	for {
		s.mu.Lock()
		n, idle := len(s.sessions), s.idle
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close closes the listeners and every connection at once; open sessions
// end as if the admin disconnected and their recordings are finalized.
// Close waits up to 10 seconds for that.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	err := s.srv.Close()
	s.pool.closeAll()
	waited := make(chan struct{})
	go func() { // owner: Close; ends when every session goroutine has returned
		s.wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		s.log.Warn("sessions still finishing after close")
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// abortSessions tells every open session's admin why it ends and closes
// it.
func (s *Server) abortSessions(reason audit.Reason) {
	s.mu.Lock()
	list := make([]aborter, 0, len(s.sessions))
	for br := range s.sessions {
		list = append(list, br)
	}
	s.mu.Unlock()
	for _, br := range list {
		br.abort(&adminError{Reason: reason, Msg: string(reason)})
	}
}

// aborter is an open session or forward that Shutdown, or the closing of
// its connection, can end.
type aborter interface {
	abort(*adminError)
	conn() *clientConn // the admin connection it belongs to
}

// addSession registers br; it fails when the server is closing.
func (s *Server) addSession(br aborter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.sessions[br] = struct{}{}
	s.wg.Add(1)
	return true
}

// removeSession unregisters br and wakes Shutdown when none remain.
func (s *Server) removeSession(br aborter) {
	s.mu.Lock()
	delete(s.sessions, br)
	if len(s.sessions) == 0 {
		close(s.idle)
		s.idle = make(chan struct{})
	}
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// auditAsync stores ev like auditEvent, on its own goroutine, and adds it
// to pending, which the caller waits on before the step the event must
// precede (a session's first byte). The login path then does not wait for
// two index commits in series before it may dial the target. The time is
// taken now, so the event's order in the index is unchanged.
func (s *Server) auditAsync(pending *sync.WaitGroup, ev audit.Event) {
	if s.audit == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = s.now()
	}
	pending.Add(1)
	s.wg.Add(1)
	go func() { // owner: the Server (Close waits for wg)
		defer s.wg.Done()
		defer pending.Done()
		s.auditEvent(ev)
	}()
}

// auditEvent stores ev (with the time filled in) when a Sink is set.
// It never fails the caller: a store error is logged.
func (s *Server) auditEvent(ev audit.Event) {
	if s.audit == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = s.now()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.audit.AppendAudit(ctx, ev); err != nil {
		s.log.Error("audit event not stored", "kind", ev.Kind, "err", err)
	}
}
