package store

import (
	"errors"
	"time"
)

// ErrNotFound is returned for a missing recording, auditor, token or audit
// event.
var ErrNotFound = errors.New("not found")

// Recording statuses.
const (
	StatusActive      = "active"      // being recorded now
	StatusFinished    = "finished"    // ended and closed cleanly
	StatusInterrupted = "interrupted" // the server died while it was active
	StatusFailed      = "failed"      // the recording could not be written
)

// Recording is the index row of one recorded session.
type Recording struct {
	ID             string        `json:"id"` // time-ordered, server-made
	User           string        `json:"user"`
	KeyFingerprint string        `json:"key_fingerprint"`
	RemoteUser     string        `json:"remote_user"`
	TargetAlias    string        `json:"target_alias"`
	TargetAddr     string        `json:"target_addr"`
	ClientAddr     string        `json:"client_addr"`
	Kind           string        `json:"kind"` // shell, exec, sftp, subsystem
	Command        string        `json:"command,omitempty"`
	Title          string        `json:"title"`
	Term           string        `json:"term,omitempty"`
	Width          int           `json:"width"`
	Height         int           `json:"height"`
	Start          time.Time     `json:"start"`
	End            time.Time     `json:"end,omitzero"`
	Duration       time.Duration `json:"duration"`
	BytesIn        int64         `json:"bytes_in"`  // admin → target
	BytesOut       int64         `json:"bytes_out"` // target → admin
	FileSize       int64         `json:"file_size"`
	ExitStatus     *int          `json:"exit_status,omitempty"`
	ExitSignal     string        `json:"exit_signal,omitempty"`
	Status         string        `json:"status"`
	Error          string        `json:"error,omitempty"` // why the recording failed
	Path           string        `json:"path"`            // relative to the recordings folder
	SHA256         string        `json:"sha256,omitempty"`
}

// AuditEvent is one security-relevant event: a login, a policy decision, a
// session start/end, a forward, a playback, a purge.
type AuditEvent struct {
	ID         uint64            `json:"id"` // assigned by the store, increasing
	Time       time.Time         `json:"time"`
	Kind       string            `json:"kind"`    // "auth", "policy", "session", "forward", "playback", "download", "purge", "recording", "web_login"...
	Outcome    string            `json:"outcome"` // "allowed", "denied", "ok", "error"...
	User       string            `json:"user,omitempty"`
	RemoteAddr string            `json:"remote_addr,omitempty"`
	Target     string            `json:"target,omitempty"`
	RemoteUser string            `json:"remote_user,omitempty"`
	SessionID  string            `json:"session_id,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Detail     map[string]string `json:"detail,omitempty"`
}

// Web account roles.
const (
	RoleAuditor = "auditor" // sees all recordings
	RoleAdmin   = "admin"   // also manages accounts and tokens
	// RoleUser is an SSH user of the bastion looking at their own sessions:
	// the account's name is a bastion user name, and it sees only the
	// recordings whose Recording.User is that name. No admin pages, no
	// metrics.
	RoleUser = "user"
)

// Auditor is a web account.
type Auditor struct {
	Name         string    `json:"name"`
	PasswordHash string    `json:"password_hash"` // PHC-style hash string
	Role         string    `json:"role"`
	Created      time.Time `json:"created"`
}

// APIToken is a bearer token for the JSON API. Only its SHA-256 is stored.
type APIToken struct {
	ID      string    `json:"id"`
	Hash    string    `json:"hash"` // hex SHA-256 of the secret
	Owner   string    `json:"owner"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}
