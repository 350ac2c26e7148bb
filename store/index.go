package store

import (
	"context"
	"errors"
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
	DeleteRecording(ctx context.Context, id string) error
	DeleteRecordings(ctx context.Context, ids []string) (int, error)
	ActiveRecordings(ctx context.Context) ([]recording.Meta, error)
	ListRecordings(ctx context.Context, f Filter) (Page, error)
	Stats(ctx context.Context) (Stats, error)
	RecoverActive(ctx context.Context, fn RecoverFunc) (int, error)
	PurgeCandidates(ctx context.Context, now time.Time, maxAge time.Duration, maxTotal int64) ([]recording.Meta, error)

	PutAccount(ctx context.Context, a Account) (Account, error)
	GetAccount(ctx context.Context, name string) (*Account, error)
	ListAccounts(ctx context.Context) ([]Account, error)
	DeleteAccount(ctx context.Context, name string) error

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
	HostKeyPins(ctx context.Context) ([]HostKeyPin, error)

	RegisterNode(ctx context.Context, n Node) error
	NodeHeartbeat(ctx context.Context, id string) error
	ListNodes(ctx context.Context) ([]Node, error)

	// Version returns the schema version the index is at; a cheap call
	// that proves the index answers (the readiness probe uses it).
	Version(ctx context.Context) (int, error)
	Close() error
}

var _ Index = (*Store)(nil)

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
	// Started is when the node last registered; Heartbeat when it last
	// said it was alive. The store sets both (RegisterNode) and Heartbeat
	// (NodeHeartbeat) from its own clock: PostgreSQL's for a shared index,
	// so that nodes with skewed clocks compare alike.
	Started   time.Time `json:"started"`
	Heartbeat time.Time `json:"heartbeat"`
}
