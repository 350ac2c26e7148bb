package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/bastion"
	"github.com/jumpcast/jumpcast/internal/lock"
	"github.com/jumpcast/jumpcast/internal/recfiles"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/castfile"
	"github.com/jumpcast/jumpcast/replayweb"
	"github.com/jumpcast/jumpcast/store"
)

// backend is what the CLI's data commands need. bbolt takes an exclusive
// lock, so while `jumpcast serve` runs the CLI talks to it over the admin
// socket (remoteBackend); otherwise it opens the data folder itself
// (localBackend). The admin socket serves a localBackend.
type backend interface {
	ListRecordings(ctx context.Context, f store.Filter) (store.Page, error)
	GetRecording(ctx context.Context, id string) (*recording.Meta, error)
	Verify(ctx context.Context, id string) (verifyResult, error)
	// EndSession ends a running session (only a running server has any),
	// or with whole the admin connection it runs on, every session on it.
	EndSession(ctx context.Context, id, why string, whole bool) error
	// WebURL is the web site's address ("" when there is none or it is not
	// known): a running server's real listener, else the configured one.
	WebURL(ctx context.Context) (string, error)
	// Cast returns the recording as a plain asciicast v2 stream, whatever
	// its format at rest; from > 0 starts it at that many seconds: the
	// screen then at once, then the rest (castfile.Reader.WriteCastFrom).
	Cast(ctx context.Context, id string, from float64) (io.ReadCloser, error)
	// Compact converts a raw .cast recording to the compressed format,
	// checked, and points the index at it (recordings compact).
	Compact(ctx context.Context, id string) (compactResult, error)
	PutAccount(ctx context.Context, a store.Account) error
	ListAccounts(ctx context.Context) ([]store.Account, error)
	DeleteAccount(ctx context.Context, name string) error
	// ResetSecondFactor removes every second factor of account name (an
	// audit event); store.ErrNotFound when it has none.
	ResetSecondFactor(ctx context.Context, name string) error
	CreateToken(ctx context.Context, owner, name string) (tokenCreated, error)
	ListTokens(ctx context.Context) ([]store.APIToken, error)
	DeleteToken(ctx context.Context, id string) error
	ListAudit(ctx context.Context, f store.AuditFilter) (auditPage, error)
	// CreateLock stores l (target, reason, expiry) and, with a server
	// running, applies it at once; it returns the lock with its id.
	CreateLock(ctx context.Context, l lock.Lock) (lock.Lock, error)
	ListLocks(ctx context.Context) ([]lock.Lock, error)
	RemoveLock(ctx context.Context, id string) (lock.Lock, error)
	// ListNodes is the index's node registry (store.Node).
	ListNodes(ctx context.Context) ([]store.Node, error)
	// HostKeyPins lists the target host keys pinned on first use;
	// ForgetHostKeyPin removes one (an audit event), so that the
	// address's next key is pinned.
	HostKeyPins(ctx context.Context) ([]store.HostKeyPin, error)
	ForgetHostKeyPin(ctx context.Context, addr string) (store.HostKeyPin, error)
	Backup(ctx context.Context, w io.Writer) (int64, error)
	Close() error
}

// verifyResult is the outcome of re-hashing one recording file.
type verifyResult struct {
	ID       string `json:"id"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
	Size     int64  `json:"size"`
	OK       bool   `json:"ok"`
	Problem  string `json:"problem,omitempty"`
}

type tokenCreated struct {
	Secret string         `json:"secret"`
	Token  store.APIToken `json:"token"`
}

type auditPage struct {
	Events []audit.Event `json:"events"`
	Next   string        `json:"next,omitempty"`
}

// withBackend loads the config, opens the backend (see openBackend) and
// runs fn, closing the backend when fn returns.
func withBackend(g *globalFlags, fn func(b backend) error) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	return withConfigBackend(cfg, fn)
}

// withConfigBackend is withBackend for a command that has loaded cfg.
func withConfigBackend(cfg *config.Config, fn func(b backend) error) error {
	b, err := openBackend(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = b.Close() }()
	return fn(b)
}

// openBackend connects to a running server's admin socket, or opens the
// data folder directly when no server is running.
func openBackend(cfg *config.Config) (backend, error) {
	sock := socketPath(cfg)
	if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
		_ = c.Close()
		return newRemoteBackend(sock), nil
	}
	return openLocalBackend(cfg)
}

// localBackend works on an open store and recordings folder.
type localBackend struct {
	st    store.Index
	dir   *recorder.Dir
	files *recfiles.Files // dir, and the bucket with storage s3: every read goes through it
	owned bool            // Close closes st and dir
	// end is the running server's proxy.Server.EndSession; nil when the CLI
	// opened the data folder itself (no server, so no live session).
	end func(id, by, why string) error
	// endConn is proxy.Server.EndConnection, nil with end.
	endConn func(id, by, why string) error
	locks   *lockKeeper
	web     string     // WebURL's answer
	audit   audit.Sink // the server's; nil: straight to st
}

func (b *localBackend) WebURL(context.Context) (string, error) { return b.web, nil }

// errNoServer answers EndSession when no server runs.
var errNoServer = errors.New("no jumpcast serve is running on this data folder, so no session is live")

// endedBy is who EndSession names for the command line: whoever can use
// the admin socket is the server's own operating-system user.
const endedBy = "an operator on the bastion"

func (b *localBackend) EndSession(_ context.Context, id, why string, whole bool) error {
	if b.end == nil {
		return errNoServer
	}
	if whole {
		return b.endConn(id, endedBy, why)
	}
	return b.end(id, endedBy, why)
}

func openLocalBackend(cfg *config.Config) (*localBackend, error) {
	if _, err := os.Stat(bastion.DBPath(cfg)); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data folder: %w", err)
		}
	}
	st, err := bastion.OpenIndex(context.Background(), cfg, false)
	if err != nil {
		return nil, err
	}
	dir, err := recorder.OpenDir(bastion.RecordingsPath(cfg))
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("open recordings folder: %w", err)
	}
	bucket, err := bastion.OpenBucket(cfg)
	if err != nil {
		_ = st.Close()
		_ = dir.Close()
		return nil, err
	}
	locks := &lockKeeper{st: st, audit: st, now: time.Now}
	return &localBackend{st: st, dir: dir, files: bastion.NewFiles(dir, bucket), owned: true, locks: locks, web: webURL(cfg)}, nil
}

func (b *localBackend) Close() error {
	if !b.owned {
		return nil
	}
	return errors.Join(b.dir.Close(), b.st.Close())
}

func (b *localBackend) ListRecordings(ctx context.Context, f store.Filter) (store.Page, error) {
	return b.st.ListRecordings(ctx, f)
}

func (b *localBackend) GetRecording(ctx context.Context, id string) (*recording.Meta, error) {
	if !recording.ValidID(id) {
		return nil, fmt.Errorf("%q is not a recording id: %w", id, store.ErrNotFound)
	}
	return b.st.GetRecording(ctx, id)
}

func (b *localBackend) Verify(ctx context.Context, id string) (verifyResult, error) {
	r, err := b.GetRecording(ctx, id)
	if err != nil {
		return verifyResult{}, err
	}
	c := b.files.Check(r.Path, r.SHA256, r.Status == recording.StatusActive)
	return verifyResult{ID: id, Expected: r.SHA256, Actual: c.Actual, Size: c.Size, OK: c.OK, Problem: c.Problem}, nil
}

func (b *localBackend) Cast(ctx context.Context, id string, from float64) (io.ReadCloser, error) {
	r, err := b.GetRecording(ctx, id)
	if err != nil {
		return nil, err
	}
	if from <= 0 {
		return castfile.OpenPlain(b.files, r.Path)
	}
	cr, err := castfile.Open(b.files, r.Path)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() { // owner: the returned reader; ends when it is read to the end or closed
		err := cr.WriteCastFrom(pw, from)
		_ = cr.Close()
		_ = pw.CloseWithError(err)
	}()
	return pr, nil
}

func (b *localBackend) PutAccount(ctx context.Context, a store.Account) error {
	_, err := b.st.PutAccount(ctx, a)
	return err
}

func (b *localBackend) ListAccounts(ctx context.Context) ([]store.Account, error) {
	return b.st.ListAccounts(ctx)
}

func (b *localBackend) DeleteAccount(ctx context.Context, name string) error {
	return b.st.DeleteAccount(ctx, name)
}

func (b *localBackend) ResetSecondFactor(ctx context.Context, name string) error {
	if err := b.st.DeleteSecondFactor(ctx, name); err != nil {
		return fmt.Errorf("account %q has no second factor: %w", name, err)
	}
	return b.st.AppendAudit(ctx, audit.SecondFactorReset(endedBy, name))
}

func (b *localBackend) CreateToken(ctx context.Context, owner, name string) (tokenCreated, error) {
	if _, err := b.st.GetAccount(ctx, owner); err != nil {
		return tokenCreated{}, fmt.Errorf("account %q: %w", owner, err)
	}
	secret, tok := replayweb.NewAPIToken()
	tok.Owner, tok.Name = owner, name
	if err := b.st.PutToken(ctx, tok); err != nil {
		return tokenCreated{}, err
	}
	return tokenCreated{Secret: secret, Token: tok}, nil
}

func (b *localBackend) ListTokens(ctx context.Context) ([]store.APIToken, error) {
	return b.st.ListTokens(ctx)
}

func (b *localBackend) DeleteToken(ctx context.Context, id string) error {
	return b.st.DeleteToken(ctx, id)
}

func (b *localBackend) ListAudit(ctx context.Context, f store.AuditFilter) (auditPage, error) {
	evs, next, err := b.st.ListAudit(ctx, f)
	return auditPage{Events: evs, Next: next}, err
}

// errBackupPostgres answers Backup when the index is in PostgreSQL.
var errBackupPostgres = errors.New("the index is in PostgreSQL (store.driver: postgres): back it up with pg_dump, see docs/operators.md")

func (b *localBackend) Backup(_ context.Context, w io.Writer) (int64, error) {
	bb, ok := b.st.(interface {
		Backup(io.Writer) (int64, error)
	})
	if !ok {
		return 0, errBackupPostgres
	}
	return bb.Backup(w)
}

// The command line's locks are made by the server's own operating-system
// user, as for EndSession.

func (b *localBackend) CreateLock(ctx context.Context, l lock.Lock) (lock.Lock, error) {
	return b.locks.CreateLock(ctx, audit.Who{}, endedBy, l)
}

func (b *localBackend) ListNodes(ctx context.Context) ([]store.Node, error) {
	return b.st.ListNodes(ctx)
}

func (b *localBackend) HostKeyPins(ctx context.Context) ([]store.HostKeyPin, error) {
	return b.st.HostKeyPins(ctx)
}

func (b *localBackend) ForgetHostKeyPin(ctx context.Context, addr string) (store.HostKeyPin, error) {
	p, err := b.st.DeleteHostKeyPin(ctx, addr)
	if err != nil {
		return p, err
	}
	return p, b.st.AppendAudit(ctx, audit.HostKeyForgotten(endedBy, p.Addr, pinFingerprint(p), p.Type))
}

func (b *localBackend) ListLocks(ctx context.Context) ([]lock.Lock, error) {
	return b.locks.ListLocks(ctx)
}

func (b *localBackend) RemoveLock(ctx context.Context, id string) (lock.Lock, error) {
	return b.locks.RemoveLock(ctx, audit.Who{}, endedBy, id)
}
