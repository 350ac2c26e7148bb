package replayweb

import (
	"context"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/lock"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/castfile"
	"github.com/jumpcast/jumpcast/store"
)

// Store is what the web site needs from the index. *store.Store satisfies
// it. Its audit.Sink receives the web site's audit events (logins,
// playbacks, downloads, searches, admin changes).
type Store interface {
	ListRecordings(ctx context.Context, f store.Filter) (store.Page, error)
	GetRecording(ctx context.Context, id string) (*recording.Meta, error)
	audit.Sink
	// ListAudit returns a page of audit events, newest first, and the
	// next page's cursor (see store.AuditFilter).
	ListAudit(ctx context.Context, f store.AuditFilter) ([]audit.Event, string, error)

	GetAccount(ctx context.Context, name string) (*store.Account, error)
	// PutAccount returns the row as stored: with a new CredentialVersion
	// when the password hash or role changed (see store.Account).
	PutAccount(ctx context.Context, a store.Account) (store.Account, error)
	ListAccounts(ctx context.Context) ([]store.Account, error)
	DeleteAccount(ctx context.Context, name string) error
	// The second factors of local accounts (see store.SecondFactor).
	GetSecondFactor(ctx context.Context, account string) (*store.SecondFactor, error)
	PutSecondFactor(ctx context.Context, f store.SecondFactor) error
	UseTOTPStep(ctx context.Context, account string, step int64) error
	UseRecoveryCode(ctx context.Context, account, hash string) (int, error)

	PutToken(ctx context.Context, t store.APIToken) error
	TokenByHash(ctx context.Context, hash string) (*store.APIToken, error)
	ListTokens(ctx context.Context) ([]store.APIToken, error)
	DeleteToken(ctx context.Context, id string) error
}

// CastOpener opens and verifies recording files by their path relative to
// the recordings folder (recording.Meta.Path), wherever they are (this
// node's folder or the shared bucket: internal/recfiles.Files satisfies
// it). It must refuse paths that are not a recording's.
type CastOpener interface {
	castfile.Opener
	// Check re-hashes the file against expected, the index's SHA-256;
	// active is true while the recording is still being written.
	Check(rel, expected string, active bool) recorder.Check
}

// LiveSource is the live fan-out of active sessions. *recorder.Hub
// satisfies it.
type LiveSource interface {
	// Active lists the ids of the sessions that can be watched now.
	Active() []string
	// Subscribe joins session id; false when it is not live. The
	// subscription yields the header, then every event so far, then live
	// events; its Events channel closes when the session ends.
	Subscribe(id string) (*recorder.Subscription, bool)
}

// Locks makes and lifts access locks (cmd/jumpcast's lock keeper): each
// change is stored, audited (who is the admin and their browser's address,
// by the name the locked-out admins see) and applied to the running
// bastion before the call returns.
type Locks interface {
	ListLocks(ctx context.Context) ([]lock.Lock, error)
	CreateLock(ctx context.Context, who audit.Who, by string, l lock.Lock) (lock.Lock, error)
	RemoveLock(ctx context.Context, who audit.Who, by, id string) (lock.Lock, error)
}
