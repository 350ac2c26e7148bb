// Package bastion wires jumpcast's SSH side and everything behind it into
// one running bastion: the data folder, the host keys, the upstream
// identity keys, the index (store: bbolt, or store/postgres), the recordings folder with crash
// recovery, the recorder's Manager and live Hub, metrics, the audit sink
// (the log, metrics, then the store) and the proxy's SSH server.
//
// The binary (cmd/jumpcast), the fault tests (internal/faulttest and
// internal/faulttest/misbehave) and the no-recording benchmark bastion
// (bench/cmd/jumpcast-norec) all build through New, so that they run the
// same wiring and a new dependency is added here, once. What only the
// binary has (the web site, the admin socket, the metrics listener,
// retention, SIGHUP) is built in cmd/jumpcast from a Bastion's parts.
//
// Besides cmd/jumpcast, this is the one package that wires concrete types
// together; it imports everything it wires and nothing imports it but
// those four.
package bastion

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/auditsyslog"
	"github.com/jumpcast/jumpcast/internal/hostpins"
	"github.com/jumpcast/jumpcast/internal/metrics"
	"github.com/jumpcast/jumpcast/internal/recfiles"
	"github.com/jumpcast/jumpcast/internal/recindex"
	"github.com/jumpcast/jumpcast/internal/sshkey"
	"github.com/jumpcast/jumpcast/proxy"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/store"
)

// Paths inside the data folder. All are made by the server.
func DBPath(cfg *config.Config) string         { return filepath.Join(cfg.DataDir, "jumpcast.db") }
func RecordingsPath(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "recordings") }

// KnownHostsPath is where versions before the index held the pins kept
// them; New imports that file into the index once (hostpins.ImportFile).
func KnownHostsPath(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "known_hosts") }

// storeLockTimeout is how long New waits for another process's lock on
// the index before it says that process holds it.
const storeLockTimeout = time.Second

// Options are what differs between the programs that build a bastion.
// The zero value is the product's wiring.
type Options struct {
	// Logger receives the logs of every part. Nil discards them.
	Logger *slog.Logger
	// RecordingsDir is the recordings folder. Empty means
	// <data_dir>/recordings (RecordingsPath), as jumpcast serve has it.
	RecordingsDir string
	// NoSync makes the index skip fsync (store.Options.NoSync): only for
	// tests where fsync is not what is tested.
	NoSync bool
	// NoRecording wires proxy.NopRecorder in place of the recorder: no
	// recordings folder, no crash recovery, no Manager and no live Hub
	// (Dir and Hub stay nil). Only the benchmark's no-recording bastion
	// sets it, to measure what recording costs; the product has no way to
	// switch recording off.
	NoRecording bool
	// Version is the jumpcast version, for the node registry.
	Version string
	// Advertise is the URL other nodes reach this node's internal
	// listener at, for the node registry; "" when it has none.
	Advertise string
	// IndexCommand, when set, makes the keyframes of closed recordings in
	// a child process at the lowest priority (recorder.Dir.IndexInChild):
	// it returns the command for the recording rel of the recordings
	// folder. Nil emulates in this process (tests that build no binary).
	IndexCommand func(folder, rel string) *exec.Cmd
}

// Bastion is the wired SSH side of jumpcast. New sets every field; they
// are not to be changed afterwards. It does not listen: the caller serves
// Proxy on a listener of its own and calls Close when done.
type Bastion struct {
	// HostKeys are the host keys Proxy presents: ssh.host_keys, or the key
	// generated once in the data folder.
	HostKeys []gossh.Signer
	// Store is the index (store.driver): the bbolt file or PostgreSQL.
	Store store.Index
	// Dir is the recordings folder (with storage s3, the node's spool);
	// nil with Options.NoRecording.
	Dir *recorder.Dir
	// Files opens, checks and removes recordings' files wherever they are
	// (Dir, or the bucket with storage s3): every reader goes through it.
	// Nil with Options.NoRecording.
	Files *recfiles.Files
	// Hub offers running sessions to live watchers; nil with
	// Options.NoRecording.
	Hub *recorder.Hub
	// Metrics holds the Prometheus series. Its active-sessions gauge reads
	// Proxy.
	Metrics *metrics.Metrics
	// Audit is where audit events go: one log line each (log.audit), a
	// metrics count, then Store. The web site and the retention job append
	// theirs here too.
	Audit audit.Sink
	// Proxy is the SSH server admins reach.
	Proxy *proxy.Server

	syslog *auditsyslog.Sink // log.syslog's copy of the audit trail; nil when off
	spool  *spool            // storage s3's streamer and uploader; nil with local storage
	stopHB chan struct{}     // closed by Close: ends the node's keeper (register)
	hbDone chan struct{}     // closed when the keeper goroutine has ended
	keeper *keeper           // made by register, run by startKeeper
}

// syslogCloseGrace bounds how long Close sends the audit events still
// queued for syslog.
const syslogCloseGrace = 5 * time.Second

// openSyslog starts the syslog copy of the audit trail behind next.
func openSyslog(sc config.Syslog, next audit.Sink, log *slog.Logger) (*auditsyslog.Sink, error) {
	o := auditsyslog.Options{Address: sc.Address, Queue: sc.Queue, Logger: log}
	if sc.CAFile != "" {
		pem, err := os.ReadFile(sc.CAFile)
		if err != nil {
			return nil, fmt.Errorf("log.syslog.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("log.syslog.ca_file %s: no PEM certificate in it", sc.CAFile)
		}
		_, hostport, _ := strings.Cut(sc.Address, "://")
		host, _, _ := net.SplitHostPort(hostport)
		o.TLS = &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}
	}
	s, err := auditsyslog.New(next, o)
	if err != nil {
		return nil, fmt.Errorf("log.syslog: %w", err)
	}
	return s, nil
}

// New builds a bastion from cfg, which must be defaulted and validated:
// it creates the data folder (and refuses one open to other local users,
// see openDataDir), reads or generates the host keys, reads
// upstream.identity_files, opens the index and the recordings folder,
// marks recordings an earlier run left active as interrupted, wires the
// recorder, metrics and audit sink into a proxy.Server and applies the
// access locks the index holds. On error everything opened so far is
// closed again.
func New(cfg *config.Config, o Options) (_ *Bastion, err error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// b is not the named result: every "return nil, err" would nil it
	// before the deferred Close ran.
	b := &Bastion{}
	defer func() {
		if err != nil {
			_ = b.Close()
		}
	}()
	if err := openDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if b.HostKeys, err = loadHostKeys(cfg, log); err != nil {
		return nil, err
	}
	identities, err := sshkey.ReadAll(cfg.Upstream.IdentityFiles)
	if err != nil {
		return nil, fmt.Errorf("upstream.identity_files: %w", err)
	}
	if b.Store, err = OpenIndex(context.Background(), cfg, o.NoSync); err != nil {
		return nil, err
	}
	if err := b.register(cfg, o, log); err != nil {
		return nil, err
	}
	if err := hostpins.ImportFile(context.Background(), KnownHostsPath(cfg), b.Store, log); err != nil {
		return nil, err
	}
	b.Metrics = metrics.New(metrics.Options{ActiveSessions: b.activeSessions, Logger: log})
	var sink audit.Sink = b.Store
	if sc := cfg.Log.Syslog; sc.Address != "" {
		// After the index: syslog gets only events the index took.
		if b.syslog, err = openSyslog(sc, b.Store, log); err != nil {
			return nil, err
		}
		sink = b.syslog
	}
	if cfg.Log.Audit {
		sink = auditLog{log: log, next: sink}
	}
	b.Audit = b.Metrics.CountingSink(sink)
	rec, err := b.openRecorder(cfg, o, log)
	if err != nil {
		return nil, err
	}
	b.Proxy, err = proxy.New(proxy.Options{
		Config:          cfg,
		HostSigners:     b.HostKeys,
		Recorder:        rec,
		Audit:           b.Audit,
		OnDial:          b.Metrics.ObserveDial,
		Logger:          log,
		Pins:            hostpins.Index{Index: b.Store},
		IdentitySigners: identities,
	})
	if err != nil {
		return nil, err
	}
	// Locks made while the server was stopped, or before a restart, apply
	// before the first connection is accepted.
	locks, err := b.Store.ListLocks(context.Background())
	if err != nil {
		return nil, err
	}
	b.Proxy.ApplyLocks(locks)
	b.startKeeper()
	return b, nil
}

// openRecorder opens the recordings folder, recovers what an earlier run
// left active, and returns the recorder behind the proxy's seam (a
// NopRecorder with Options.NoRecording).
func (b *Bastion) openRecorder(cfg *config.Config, o Options, log *slog.Logger) (proxy.Recorder, error) {
	if o.NoRecording {
		return proxy.NopRecorder{}, nil
	}
	path := o.RecordingsDir
	if path == "" {
		path = RecordingsPath(cfg)
	}
	var err error
	if b.Dir, err = recorder.OpenDir(path); err != nil {
		return nil, fmt.Errorf("open recordings folder: %w", err)
	}
	if o.IndexCommand != nil {
		b.Dir.IndexInChild(func(rel string) *exec.Cmd { return o.IndexCommand(path, rel) })
	}
	// Recovery reads this node's own files: a recording it left active is
	// in its spool (the bucket holds at most its parts).
	if n, err := b.Store.RecoverActive(context.Background(), cfg.Node(), recindex.Recover(b.Dir)); err != nil {
		return nil, fmt.Errorf("recover interrupted recordings: %w", err)
	} else if n > 0 {
		log.Warn("recordings interrupted by an earlier stop were closed", "count", n)
	}
	if n, err := recindex.QueueKeyframes(context.Background(), b.Store, b.Dir, cfg.Node(), log); err != nil {
		log.Warn("recordings without keyframes not looked for", "err", err)
	} else if n > 0 {
		log.Info("recordings queued for their keyframes", "count", n)
	}
	bucket, err := OpenBucket(cfg)
	if err != nil {
		return nil, err
	}
	b.Files = NewFiles(b.Dir, bucket)
	index := b.Metrics.Index(recindex.New(b.Store))
	if bucket != nil {
		if b.spool, err = openSpool(cfg, b.Dir, path, bucket, b.Store, b.Audit, b.Metrics, log, o.IndexCommand); err != nil {
			return nil, err
		}
		index = spoolIndex{next: index, sp: b.spool}
	}
	b.Hub = recorder.NewHub()
	return managerRecorder(recorder.NewManager(recorder.ManagerOptions{
		Dir:           b.Dir,
		Index:         index,
		Hub:           b.Hub,
		FlushInterval: cfg.Recording.FlushInterval,
		MinFreeSpace:  uint64(cfg.Recording.MinFreeSpace),
		Node:          cfg.Node(),
		Raw:           cfg.Recording.Format == config.FormatRaw,
		Logger:        log,
	})), nil
}

// managerRecorder adapts the recorder's Manager to the proxy's seam.
func managerRecorder(m *recorder.Manager) proxy.Recorder {
	return proxy.RecorderFunc(func(ctx context.Context, info recorder.SessionInfo) (proxy.SessionRecorder, error) {
		s, err := m.Start(ctx, info)
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return s, nil
	})
}

// SpoolBytes reports the bytes in the recordings spool with storage s3,
// nil without (for the readiness probe).
func (b *Bastion) SpoolBytes() (int64, error) {
	if b.spool == nil {
		return 0, nil
	}
	return b.spool.Bytes()
}

// activeSessions feeds jumpcast_active_sessions. Scrapes start after New
// has set Proxy (the servers start later).
func (b *Bastion) activeSessions() int {
	if b.Proxy == nil {
		return 0
	}
	return b.Proxy.ActiveSessions()
}

// Close closes the proxy (open sessions end and their recordings are
// finalized), then the recordings folder, then the index. It is safe on a
// partly built Bastion, and closing the proxy again is a no-op, so a
// caller may close Proxy first.
func (b *Bastion) Close() error {
	var errs []error
	if b.Proxy != nil {
		errs = append(errs, b.Proxy.Close())
	}
	if b.stopHB != nil {
		close(b.stopHB)
		<-b.hbDone
	}
	if b.syslog != nil {
		b.syslog.Close(syslogCloseGrace)
	}
	if b.spool != nil {
		b.spool.Close()
	}
	if b.Dir != nil {
		errs = append(errs, b.Dir.Close())
	}
	if b.Store != nil {
		errs = append(errs, b.Store.Close())
	}
	return errors.Join(errs...)
}
