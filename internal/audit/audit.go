// Package audit owns the vocabulary of jumpcast's audit trail: the Event
// value, its typed kinds, outcomes, reasons and detail keys, one
// constructor per event, and the Sink that events are handed to.
//
// Producers (proxy, replayweb, the retention job in cmd/jumpcast) build
// events only through the constructors (events.go, web.go), never field by
// field, so that the words a reader decodes (internal/metrics, tests, an
// operator running "jumpcast audit --kind ...") are the constants here and
// nowhere else. Consumers switch on Kind and Outcome values and read Detail with
// DetailKey constants.
//
// The package imports nothing of jumpcast's: store persists Events, proxy
// and replayweb produce them, and neither needs the other for it.
//
// The JSON encoding of Event is stored in the bbolt index and served by
// the admin API and "jumpcast audit": field names, their order and the
// omitempty rules are a compatibility contract with existing databases.
package audit

import (
	"context"
	"time"
)

// Event is one security-relevant event: a login, a policy decision, a
// session's start and end, a forward, a playback, a purge.
//
// Built by a constructor, an Event has ID zero and Time zero: the Sink that
// stores it assigns the ID, and the producer or the Sink stamps the time.
type Event struct {
	ID      uint64    `json:"id"` // assigned by the store, increasing; 0 before it is stored
	Time    time.Time `json:"time"`
	Kind    Kind      `json:"kind"`
	Outcome Outcome   `json:"outcome"`
	// Who acted, from where, toward which target. Its fields are encoded
	// inline, between outcome and session_id (user, remote_addr, target,
	// remote_user): the stored format.
	Who
	SessionID string `json:"session_id,omitempty"` // the recording id, when the event concerns one session
	// Reason says why, for a refusal or an end; one of the Reason
	// constants, or free text where a constructor says so (an auditor's
	// "why", a recorder error). Empty for most successes.
	Reason Reason               `json:"reason,omitempty"`
	Detail map[DetailKey]string `json:"detail,omitempty"` // nil when the event has none
}

// Who names the party of an event: the bastion user (or web account) who
// acted, their address, and the target and remote user they asked for.
// Empty fields are left out of the JSON encoding.
type Who struct {
	User       string `json:"user,omitempty"`        // bastion user or web account name
	RemoteAddr string `json:"remote_addr,omitempty"` // the client's address, host:port or an IP
	Target     string `json:"target,omitempty"`      // target as typed (alias or host), or the recording's target
	RemoteUser string `json:"remote_user,omitempty"` // account on the target
}

// Sink receives audit events. *store.Store is the durable sink: it assigns
// ID and fills in Time when it is zero. Wrappers (metrics counting, the
// audit log lines) pass each event on to another Sink unchanged.
// Implementations must be safe for concurrent use. An error means the
// event was not stored; what a producer does then (log it, refuse a
// playback) is its own policy.
type Sink interface {
	AppendAudit(ctx context.Context, ev Event) error
}

// Kind says what an event is about. The values are stored and filtered on
// ("jumpcast audit --kind"), so they never change.
type Kind string

// Kinds of events.
const (
	KindAuth        Kind = "auth"         // SSH public-key authentication at the bastion
	KindPolicy      Kind = "policy"       // the policy's decision on user, target and remote user
	KindSession     Kind = "session"      // a session channel: started, denied, ended, terminated
	KindForward     Kind = "forward"      // a direct-tcpip channel (ssh -J, -L, -W)
	KindUpstream    Kind = "upstream"     // the connection to a target: failed or lost
	KindRecording   Kind = "recording"    // a recording that could not be written
	KindHostKey     Kind = "hostkey"      // a target host key pinned on first use, or its pin forgotten
	KindVerify      Kind = "verify"       // a recording's checksum verified in the web UI
	KindPlayback    Kind = "playback"     // a recording played in the browser
	KindPreview     Kind = "preview"      // a recording's screen shown as a preview in the list
	KindDownload    Kind = "download"     // a recording file downloaded
	KindSearch      Kind = "search"       // recordings' contents searched ("On screen")
	KindPurge       Kind = "purge"        // a recording removed by retention
	KindArchive     Kind = "archive"      // a recording re-encoded in the archived format
	KindWebLogin    Kind = "web_login"    // a sign-in to the web UI
	KindWebAdmin    Kind = "web_admin"    // an account, token or session changed from the web UI
	KindLock        Kind = "lock"         // an access lock made or lifted (CLI or web UI)
	KindConnection  Kind = "connection"   // an admin connection the bastion closed (reload, lock, request)
	KindAuditExport Kind = "audit_export" // the audit log exported from the web UI
	KindSSOMapping  Kind = "sso_mapping"  // the role a single sign-on got from its groups, or none
)

// Kinds returns every Kind, in the order "jumpcast audit --help" lists
// them.
func Kinds() []Kind {
	return []Kind{KindAuth, KindPolicy, KindSession, KindForward, KindUpstream, KindHostKey,
		KindPlayback, KindPreview, KindDownload, KindVerify, KindSearch, KindPurge, KindArchive, KindRecording, KindWebLogin, KindWebAdmin,
		KindLock, KindConnection, KindAuditExport, KindSSOMapping}
}

// Outcomes returns every Outcome, for filters.
func Outcomes() []Outcome {
	return []Outcome{OutcomeOK, OutcomeAllowed, OutcomeDenied, OutcomeError, OutcomeFailed, OutcomeStarted,
		OutcomeEnded, OutcomeTerminated, OutcomeLost, OutcomePinned, OutcomeForgotten, OutcomeOverridden, OutcomeLocked, OutcomeUnlocked, OutcomeInterrupted}
}

// Outcome says how an event ended. Which outcomes a kind has is written
// on its constructors.
type Outcome string

// Outcomes.
const (
	OutcomeOK         Outcome = "ok"
	OutcomeAllowed    Outcome = "allowed"
	OutcomeDenied     Outcome = "denied"
	OutcomeError      Outcome = "error"
	OutcomeFailed     Outcome = "failed" // a verification that found a problem
	OutcomeStarted    Outcome = "started"
	OutcomeEnded      Outcome = "ended"
	OutcomeTerminated Outcome = "terminated" // a session ended on request (EndSession)
	OutcomeLost       Outcome = "lost"       // a target connection that closed under its sessions
	OutcomePinned     Outcome = "pinned"
	OutcomeForgotten  Outcome = "forgotten"  // a host key pin removed, so that the next key is pinned
	OutcomeOverridden Outcome = "overridden" // a client's request the bastion changed before passing it on
	OutcomeLocked     Outcome = "locked"     // an access lock made
	OutcomeUnlocked   Outcome = "unlocked"   // an access lock removed
	// A recording closed by another node because its own stopped its
	// heartbeat.
	OutcomeInterrupted Outcome = "interrupted"
)

// DetailKey names one entry of Event.Detail. Values are always strings;
// numbers are written in decimal.
type DetailKey string

// Detail keys.
const (
	DetailAction         DetailKey = "action"       // web_admin: what changed, an Action
	DetailAddress        DetailKey = "address"      // the target's host:port
	DetailBy             DetailKey = "by"           // who asked to end a session
	DetailBytes          DetailKey = "bytes"        // purge: the file's size
	DetailBytesIn        DetailKey = "bytes_in"     // admin → target bytes of a session
	DetailBytesOut       DetailKey = "bytes_out"    // target → admin bytes of a session
	DetailCA             DetailKey = "ca"           // the certificate authority's key fingerprint
	DetailCertKeyID      DetailKey = "cert_key_id"  // the user certificate's key id
	DetailCommand        DetailKey = "command"      // an exec request's command, cut to recording.MaxCommandLen
	DetailCommandLen     DetailKey = "command_len"  // the whole command's length in bytes, when "command" was cut
	DetailDestination    DetailKey = "destination"  // a forward's host:port
	DetailDuration       DetailKey = "duration"     // a session's length (Go duration syntax)
	DetailError          DetailKey = "error"        // the error that closed a target connection
	DetailExitSignal     DetailKey = "exit_signal"  // "" when there was none
	DetailExitStatus     DetailKey = "exit_status"  // "" when there was none
	DetailExpires        DetailKey = "expires"      // when a lock ends (RFC 3339, UTC); absent: until removed
	DetailFilter         DetailKey = "filter"       // an audit export's filter, as URL query
	DetailFormat         DetailKey = "format"       // an audit export's format: jsonl or csv
	DetailGroup          DetailKey = "group"        // sso_mapping: the group that gave the role
	DetailGroups         DetailKey = "groups"       // sso_mapping: the groups the provider asserted, comma-separated
	DetailKeyFingerprint DetailKey = "key"          // the SSH key's SHA-256 fingerprint
	DetailSessionKind    DetailKey = "kind"         // a session's kind: shell, exec, sftp, subsystem
	DetailLive           DetailKey = "live"         // "true" for a playback of a running session
	DetailLock           DetailKey = "lock"         // an access lock's id
	DetailLogin          DetailKey = "login"        // the SSH login name as typed
	DetailMessage        DetailKey = "message"      // the line the admin was shown
	DetailNode           DetailKey = "node"         // the node that was recording a session
	DetailHeartbeat      DetailKey = "heartbeat"    // a silent node's last heartbeat (RFC 3339, UTC)
	DetailName           DetailKey = "name"         // an API token's name
	DetailOnFailure      DetailKey = "on_failure"   // recording.on_failure: "fail-open" or "fail-closed"
	DetailOrigin         DetailKey = "origin"       // a forward's originator host:port, as the client sent it
	DetailProblem        DetailKey = "problem"      // what a failed verification found
	DetailReason         DetailKey = "reason"       // an auditor's reason for ending a session
	DetailRecordings     DetailKey = "recordings"   // how many recordings a search read
	DetailRole           DetailKey = "role"         // a web account's role
	DetailScreen         DetailKey = "screen"       // the text searched for
	DetailSessions       DetailKey = "sessions"     // how many sessions and forwards a closed connection had open
	DetailSHA256         DetailKey = "sha256"       // a recording file's checksum as computed now
	DetailPlainSHA256    DetailKey = "plain_sha256" // archive: the checksum of the plain asciicast, before and after
	DetailPrevSHA256     DetailKey = "was_sha256"   // archive: the replaced file's checksum, as the index had it
	DetailPrevBytes      DetailKey = "was_bytes"    // archive: the replaced file's size
	DetailSSOSubject     DetailKey = "sso_subject"  // the OpenID provider's "sub" of a single sign-on
	DetailStart          DetailKey = "start"        // a purged recording's start (RFC 3339, UTC)
	DetailSubject        DetailKey = "subject"      // the account a web_admin change is about; what a lock names
	DetailTargetLogin    DetailKey = "target_login" // "new", or "reused" for a kept target connection
	DetailToken          DetailKey = "token"        // an API token's id
	DetailType           DetailKey = "type"         // a host key's type
	DetailVia            DetailKey = "via"          // how: "web", "api", "bastion", "target NAME"
	DetailWhy            DetailKey = "why"          // why authentication failed, for the operator
)

// Action is the value of DetailAction in a web_admin event.
type Action string

// Actions of web_admin events. "auditor" is the stored word for a web
// account of any role.
const (
	ActionPutAccount    Action = "put_auditor"
	ActionDeleteAccount Action = "delete_auditor"
	ActionCreateToken   Action = "create_token"
	ActionDeleteToken   Action = "delete_token"
	ActionEndSession    Action = "end_session"
	ActionEndConnection Action = "end_connection"
)
