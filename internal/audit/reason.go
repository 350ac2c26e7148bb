package audit

import "fmt"

// Reason says why an event happened: why a login, decision or session was
// refused, or why a session ended. The constants are stable strings: they
// are stored, shown by "jumpcast audit", logged under the "reason" key,
// and turned into metric labels (jumpcast_auth_failures_total{reason}).
// Renaming one is a change of the audit trail's vocabulary.
type Reason string

// Why authentication failed.
const (
	ReasonNoAuthorizedKey Reason = "no authorized key"
)

// Why the policy allowed or refused (Event.Reason of policy events, and
// proxy.Decision.Reason).
const (
	ReasonRuleMatched          Reason = "rule matched"
	ReasonUnknownUser          Reason = "unknown user"
	ReasonNoTargetGiven        Reason = "no target" // the login named no target
	ReasonTargetNotPermitted   Reason = "target not permitted"
	ReasonAliasPort            Reason = "an alias takes no other port"
	ReasonForwardingAllowed    Reason = "rule allows port forwarding"
	ReasonForwardingNotAllowed Reason = "port forwarding not permitted"
)

// RemoteUserNotPermitted is the policy's reason when the user may reach
// the target but not as remoteUser.
func RemoteUserNotPermitted(remoteUser string) Reason {
	return Reason(fmt.Sprintf("remote user %s not permitted", remoteUser))
}

// Why the bastion refused or ended a session, forward or target connection
// (the proxy's admin-visible failures).
const (
	ReasonBadLogin       Reason = "malformed login name"
	ReasonNoTarget       Reason = "no such target"
	ReasonNotPermitted   Reason = "not permitted"
	ReasonUnreachable    Reason = "target unreachable"
	ReasonHostKeyChanged Reason = "host key changed"
	ReasonHostKeyUnknown Reason = "host key unknown"
	ReasonUpstreamAuth   Reason = "upstream authentication failed"
	ReasonShutdown       Reason = "bastion shutting down"
	ReasonRecording      Reason = "recording unavailable"
	ReasonChannelRefused Reason = "target refused the session"
	ReasonTargetLost     Reason = "target connection lost"
	ReasonEndedOnRequest Reason = "ended by request"
	ReasonLocked         Reason = "locked" // an access lock names the user, key or target
	// An exec command or subsystem name holds a byte the target would
	// read otherwise than the recording shows it (sshd cuts at a NUL).
	ReasonControlCharacter Reason = "control character in the request"
	// The index that holds the tofu pins did not answer: the key could
	// not be checked, so the target is not reached.
	ReasonPinsUnavailable Reason = "host key pins unavailable"
	// The node recording a session stopped its heartbeat; another node
	// closed the recording's row.
	ReasonNodeSilent Reason = "node stopped answering"
)

// Why the bastion changed a client's request before passing it on.
const (
	ReasonEchoOff Reason = "client asked for echo off" // pty-req terminal modes with ECHO 0
)

// Why the bastion closed a connection that was allowed when it opened (a
// reload re-checks every open connection); ReasonNotPermitted when the
// policy no longer grants its target.
const (
	ReasonKeyRevoked         Reason = "key revoked"              // ssh.revoked_keys names its key, certificate key or CA
	ReasonKeyNotAuthorized   Reason = "key no longer authorized" // the key or its user left the configuration
	ReasonCertificateInvalid Reason = "certificate no longer valid"
	// The connection's channels had maxRefusedStarts start requests
	// refused (by the target or for a control character): each refusal
	// leaves a closed recording, so they are bounded per connection.
	ReasonTooManyRefusedStarts Reason = "too many refused session starts"
)

// Why a session ended without an exit status from its program.
const (
	ReasonClientGone   Reason = "client disconnected"
	ReasonNoExitStatus Reason = "target closed without exit status"
)

// Why a web sign-in was refused.
const (
	ReasonWrongPassword Reason = "wrong name or password"
)

// retention is the reason of a purge: the limits that chose the recording.
func retention(maxAge, maxTotalSize string) Reason {
	return Reason(fmt.Sprintf("retention (max_age %s, max_total_size %s)", maxAge, maxTotalSize))
}
