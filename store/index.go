package store

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/lock"
	"github.com/jumpcast/jumpcast/internal/recording"
)

// Index is the jumpcast index as the rest of jumpcast uses it. Two
// backends implement it: *Store (one bbolt file, one node, the default)
// and store/postgres (one PostgreSQL database shared by several nodes).
// store/storetest is the one contract suite both pass, so that the
// behaviour documented on *Store's methods (orders, cursors, sentinel
// errors, credential versions, pins) is the behaviour of either backend.
//
// A page of ListRecordings or ListAudit may be short with a non-empty
// cursor in either backend (each bounds a page's work); its cursors are
// only valid with the backend that made them.
type Index interface {
	CreateRecording(ctx context.Context, r *recording.Meta) error
	FinishRecording(ctx context.Context, r *recording.Meta) error
	GetRecording(ctx context.Context, id string) (*recording.Meta, error)
	SetRecordingLocation(ctx context.Context, id, location string) error
	DeleteRecording(ctx context.Context, id string) error
	DeleteRecordings(ctx context.Context, ids []string) (int, error)
	ActiveRecordings(ctx context.Context) ([]recording.Meta, error)
	ListRecordings(ctx context.Context, f Filter) (Page, error)
	Stats(ctx context.Context) (Stats, error)
	RecoverActive(ctx context.Context, node string, fn RecoverFunc) (int, error)
	InterruptSilentNode(ctx context.Context, node string, silentFor time.Duration) ([]recording.Meta, error)
	SealSilentRecording(ctx context.Context, id string, size int64, sha256, location string) (bool, error)
	PurgeCandidates(ctx context.Context, now time.Time, maxAge time.Duration, maxTotal int64) ([]recording.Meta, error)

	PutAccount(ctx context.Context, a Account) (Account, error)
	GetAccount(ctx context.Context, name string) (*Account, error)
	ListAccounts(ctx context.Context) ([]Account, error)
	DeleteAccount(ctx context.Context, name string) error

	PutSecondFactor(ctx context.Context, f SecondFactor) error
	GetSecondFactor(ctx context.Context, account string) (*SecondFactor, error)
	DeleteSecondFactor(ctx context.Context, account string) error
	UseTOTPStep(ctx context.Context, account string, step int64) error
	UseRecoveryCode(ctx context.Context, account, hash string) (int, error)

	PutToken(ctx context.Context, t APIToken) error
	TokenByHash(ctx context.Context, hash string) (*APIToken, error)
	ListTokens(ctx context.Context) ([]APIToken, error)
	DeleteToken(ctx context.Context, id string) error

	AppendAudit(ctx context.Context, ev audit.Event) error
	ListAudit(ctx context.Context, f AuditFilter) ([]audit.Event, string, error)

	CreateLock(ctx context.Context, l lock.Lock) error
	DeleteLock(ctx context.Context, id string) (lock.Lock, error)
	ListLocks(ctx context.Context) ([]lock.Lock, error)

	PinHostKey(ctx context.Context, p HostKeyPin) (HostKeyPin, error)
	HostKeyPin(ctx context.Context, addr string) (HostKeyPin, error)
	HostKeyPins(ctx context.Context) ([]HostKeyPin, error)
	DeleteHostKeyPin(ctx context.Context, addr string) (HostKeyPin, error)

	RegisterNode(ctx context.Context, n Node) error
	NodeHeartbeat(ctx context.Context, id string) error
	ListNodes(ctx context.Context) ([]Node, error)

	// Version returns the schema version the index is at; a cheap call
	// that proves the index answers (the readiness probe uses it).
	Version(ctx context.Context) (int, error)
	Close() error
}

var _ Index = (*Store)(nil)

// ErrUnavailable is wrapped by a backend's errors when its database could
// not be reached (a PostgreSQL restart, a network failure): the call may
// succeed later without any change on the caller's side. Its text names no
// host or account, since it may be shown to an admin.
var ErrUnavailable = errors.New("index unavailable")

// ErrPinConflict is wrapped by PinHostKey when the address already has
// another pinned key: the pin stands, and the new key is refused.
var ErrPinConflict = errors.New("another host key is pinned for this address")

// HostKeyPin is a target host key trusted on first use (host_key_policy:
// tofu): the first key a target address presented. Every node sharing an
// index trusts the same pin.
type HostKeyPin struct {
	// Addr is the address as dialled ("db1.internal:22", "[2001:db8::1]:22").
	Addr string `json:"addr"`
	// Key is the public key in SSH wire format (ssh.PublicKey.Marshal).
	Key []byte `json:"key"`
	// Type is the key's algorithm name ("ssh-ed25519"), for display.
	Type string `json:"type"`
	// Created is when it was pinned; zero in PinHostKey means now.
	Created time.Time `json:"created"`
}

// Node is one jumpcast process in the node registry (several nodes share
// a PostgreSQL index; a bbolt index has one). The registry is data only:
// what nodes do with it (forwarding, marking a silent node's recordings)
// is not the store's business.
type Node struct {
	// ID names the node; stable across its restarts.
	ID string `json:"id"`
	// Addr is where other nodes reach it (host:port); "" when unset.
	Addr string `json:"addr"`
	// Version is the jumpcast version it runs.
	Version string `json:"version"`
	// HostKeys are the SHA256 fingerprints of the SSH host keys it
	// presents (ssh-keygen -l's form), sorted. Nodes behind one balancer
	// must present the same keys: `jumpcast config check` and `serve`
	// compare them. Nil for a node registered by an older jumpcast.
	HostKeys []string `json:"host_keys,omitempty"`
	// Started is when the node last registered; Heartbeat when it last
	// said it was alive. The store sets both (RegisterNode) and Heartbeat
	// (NodeHeartbeat) from its own clock: PostgreSQL's for a shared index,
	// so that nodes with skewed clocks compare alike.
	Started   time.Time `json:"started"`
	Heartbeat time.Time `json:"heartbeat"`
}

// TargetHost is the host part of a target address ("db1" for "db1:22",
// "2001:db8::1" for "[2001:db8::1]:22"), which Filter.Target matches
// besides the alias. A backend that stores it in a column computes it
// with this function.
func TargetHost(addr string) string { return hostPart(addr) }

// RecordingCursor is the cursor of a ListRecordings page that resumes
// after the row (dur, id) in the order of the page (by duration when
// byDuration, else by start). Backends other than *Store make their
// cursors with it, so that a cursor looks the same whatever made it.
func RecordingCursor(byDuration bool, dur time.Duration, id string) string {
	pos := []byte(id)
	if byDuration {
		pos = append(be64(durKey(dur)), id...)
	}
	return encodeCursor(byDuration, pos, false)
}

// RecordingCursorKey is RecordingCursor for a duration-ordered page whose
// position is known by its duration key (DurationKey) rather than its
// duration.
func RecordingCursorKey(durKey int64, id string) string {
	return encodeCursor(true, append(be64(uint64(durKey)), id...), false)
}

// ParseRecordingCursor decodes a ListRecordings cursor for the given sort:
// the position's duration key (0 for a start-ordered cursor) and id, and
// whether the position itself is still to be listed. A cursor that is not
// one gives an error wrapping ErrInvalidFilter.
func ParseRecordingCursor(c string, byDuration bool) (durKey int64, id string, inclusive bool, err error) {
	pos, inclusive, err := decodeCursor(c, byDuration)
	if err != nil {
		return 0, "", false, err
	}
	if byDuration {
		durKey, pos = int64(binary.BigEndian.Uint64(pos[:8])), pos[8:]
	}
	return durKey, string(pos), inclusive, nil
}

// DurationKey is the value duration-ordered pages sort on: the duration,
// with a negative one (a clock step) as zero.
func DurationKey(d time.Duration) int64 { return int64(durKey(d)) }

// AuditCursor is the cursor of a ListAudit page that resumes after the
// event (t, id).
func AuditCursor(t time.Time, id uint64) string { return auditCursor(auditKey(t, id), false) }

// ParseAuditCursor decodes a ListAudit cursor: the position's time in Unix
// nanoseconds and event id, and whether the position itself is still to
// be listed. A cursor that is not one gives an error wrapping
// ErrInvalidFilter.
func ParseAuditCursor(c string) (unixNano int64, id uint64, inclusive bool, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != 3+auditKeyLen || b[0] != cursorVersion || b[1] != 'a' || b[2] > 1 {
		return 0, 0, false, fmt.Errorf("%w: cursor %q was not made by this store", ErrInvalidFilter, c)
	}
	unixNano = int64(binary.BigEndian.Uint64(b[3:11]) ^ 1<<63)
	return unixNano, binary.BigEndian.Uint64(b[11:19]), b[2] == 1, nil
}
