package store

import (
	"errors"
	"time"
)

// ErrNotFound is returned for a missing recording, account, token or audit
// event.
var ErrNotFound = errors.New("not found")

// ErrStillActive is returned by SetRecordingLocation for a recording whose
// session still runs: only a closed recording's files move.
var ErrStillActive = errors.New("recording still active")

// Web account roles.
const (
	RoleAuditor = "auditor" // sees all recordings
	RoleAdmin   = "admin"   // also manages accounts and tokens
	// RoleUser is an SSH user of the bastion looking at their own sessions:
	// the account's name is a bastion user name, and it sees only the
	// recordings whose Meta.User is that name. No admin pages, no
	// metrics.
	RoleUser = "user"
)

// Account is a web account of any role (RoleUser, RoleAuditor or RoleAdmin).
type Account struct {
	Name         string    `json:"name"`
	PasswordHash string    `json:"password_hash"` // PHC-style hash string
	Role         string    `json:"role"`
	Created      time.Time `json:"created"`
	// CredentialVersion names the account's current password and role:
	// PutAccount gives it a new value, never used before in this file,
	// whenever either changes (the caller's value is ignored). A web login
	// remembers the version it was made with and ends at its next request
	// once they differ, whichever way the change was made. Zero in rows
	// written before the field existed, which then stay valid until their
	// first change.
	CredentialVersion uint64 `json:"credential_version,omitempty"`
}

// APIToken is a bearer token for the JSON API. Only its SHA-256 is stored.
type APIToken struct {
	ID      string    `json:"id"`
	Hash    string    `json:"hash"` // hex SHA-256 of the secret
	Owner   string    `json:"owner"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}
