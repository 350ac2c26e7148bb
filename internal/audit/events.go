package audit

import (
	"strconv"
	"time"
)

// One constructor per event. Each returns an Event with ID and Time zero
// (the Sink and the producer fill them in) and says which Who fields it
// keeps; the rest of the event's fields are the constructor's to set.

// Key is the credential an SSH user authenticated with.
type Key struct {
	Fingerprint string // SHA-256 fingerprint of the public key (for a certificate: of its key)
	CA          string // fingerprint of the CA that signed the user certificate; "" for a plain key
	CertKeyID   string // the user certificate's key id; recorded only with CA
}

// AuthOK is an SSH login that proved a key of bastion user user: kind
// auth, outcome ok. login is the login name as typed ("root@db1").
func AuthOK(user, remoteAddr, login string, key Key) Event {
	d := map[DetailKey]string{DetailKeyFingerprint: key.Fingerprint, DetailLogin: login}
	if key.CA != "" {
		d[DetailCA], d[DetailCertKeyID] = key.CA, key.CertKeyID
	}
	return Event{Kind: KindAuth, Outcome: OutcomeOK, Who: Who{User: user, RemoteAddr: remoteAddr}, Detail: d}
}

// AuthDenied is an SSH connection that closed without authenticating
// after offering credentials: kind auth, outcome denied, reason
// ReasonNoAuthorizedKey. why is the operator's detail (which key or
// certificate check failed).
func AuthDenied(remoteAddr, why string) Event {
	return Event{Kind: KindAuth, Outcome: OutcomeDenied, Who: Who{RemoteAddr: remoteAddr},
		Reason: ReasonNoAuthorizedKey, Detail: map[DetailKey]string{DetailWhy: why}}
}

// PolicyDecided is the policy's decision on who's target and remote user:
// kind policy, outcome allowed or denied. keyFingerprint is the key the
// user logged in with, address the target's host:port ("" when it did not
// resolve).
func PolicyDecided(who Who, allowed bool, reason Reason, address, keyFingerprint string) Event {
	outcome := OutcomeDenied
	if allowed {
		outcome = OutcomeAllowed
	}
	return Event{Kind: KindPolicy, Outcome: outcome, Who: who, Reason: reason,
		Detail: map[DetailKey]string{DetailAddress: address, DetailKeyFingerprint: keyFingerprint}}
}

// Start describes a session as it starts, for SessionStarted.
type Start struct {
	Kind        string // shell, exec, sftp or subsystem
	Command     string // the exec command or subsystem name, as the index keeps it (recording.CutCommand); "" for a shell
	CommandLen  int    // the whole command's length in bytes when Command was cut; 0 when it is whole
	Address     string // the target's host:port
	TargetLogin string // "new" when the target connection logged in for this session, "reused" when a kept one was taken over
}

// SessionStarted is a session channel whose shell, exec or subsystem the
// target accepted, recorded as sessionID: kind session, outcome started.
func SessionStarted(who Who, sessionID string, s Start) Event {
	e := Event{Kind: KindSession, Outcome: OutcomeStarted, Who: who, SessionID: sessionID,
		Detail: map[DetailKey]string{DetailSessionKind: s.Kind, DetailCommand: s.Command,
			DetailAddress: s.Address, DetailTargetLogin: s.TargetLogin}}
	if s.CommandLen > 0 {
		e.Detail[DetailCommandLen] = strconv.Itoa(s.CommandLen)
	}
	return e
}

// SessionDenied is a session channel the bastion refused before it
// started, for a reason not audited by an earlier event (a malformed
// login name): kind session, outcome denied. message is the line the
// admin was shown.
func SessionDenied(who Who, reason Reason, message string) Event {
	return Event{Kind: KindSession, Outcome: OutcomeDenied, Who: who, Reason: reason,
		Detail: map[DetailKey]string{DetailMessage: message}}
}

// EchoKeptOn is a pty-req whose terminal modes asked for echo off (ECHO
// 0: what OpenSSH sends after stty -echo in the admin's own terminal):
// kind session, outcome overridden, reason ReasonEchoOff. The bastion
// sends the target its modes with echo on, so that what the admin types
// is in the recording; the session goes on.
func EchoKeptOn(who Who) Event {
	return Event{Kind: KindSession, Outcome: OutcomeOverridden, Who: who, Reason: ReasonEchoOff}
}

// End describes how a session ended, for SessionEnded.
type End struct {
	// Reason is set when the bastion or the client, not the program, ended
	// the session: ReasonClientGone, ReasonTargetLost, the line shown to
	// the admin for a forced end... Empty when the program exited.
	Reason    Reason
	HasStatus bool // the program's exit status is known
	Status    int  // exit status, when HasStatus
	Signal    string
	Duration  time.Duration
	BytesIn   int64 // admin → target
	BytesOut  int64 // target → admin
}

// SessionEnded is the last event of a started session: kind session,
// outcome ended. exit_status and exit_signal are always in Detail, ""
// when unknown.
func SessionEnded(who Who, sessionID string, e End) Event {
	status := ""
	if e.HasStatus {
		status = strconv.Itoa(e.Status)
	}
	return Event{Kind: KindSession, Outcome: OutcomeEnded, Who: who, SessionID: sessionID, Reason: e.Reason,
		Detail: map[DetailKey]string{DetailExitStatus: status, DetailExitSignal: e.Signal,
			DetailDuration: e.Duration.String(), DetailBytesIn: strconv.FormatInt(e.BytesIn, 10),
			DetailBytesOut: strconv.FormatInt(e.BytesOut, 10)}}
}

// SessionTerminated is a running session ended on request (proxy's
// EndSession) by by ("auditor bob"): kind session, outcome terminated. The
// reason is why, free text from the requester ("" when none was given).
func SessionTerminated(who Who, sessionID, by, why string) Event {
	return Event{Kind: KindSession, Outcome: OutcomeTerminated, Who: who, SessionID: sessionID,
		Reason: Reason(why), Detail: map[DetailKey]string{DetailBy: by}}
}

// RecordingFailed is a recording that could not be written: kind
// recording, outcome error. The reason is err's text; onFailure is the
// recording.on_failure policy applied ("fail-open" or "fail-closed").
func RecordingFailed(who Who, sessionID string, err error, onFailure string) Event {
	return Event{Kind: KindRecording, Outcome: OutcomeError, Who: who, SessionID: sessionID,
		Reason: Reason(err.Error()), Detail: map[DetailKey]string{DetailOnFailure: onFailure}}
}

// ForwardDenied is a direct-tcpip channel to destination (host:port) that
// was refused or could not be connected: kind forward, outcome denied.
func ForwardDenied(who Who, reason Reason, destination string) Event {
	return Event{Kind: KindForward, Outcome: OutcomeDenied, Who: who, Reason: reason,
		Detail: map[DetailKey]string{DetailDestination: destination}}
}

// ForwardOpened is a direct-tcpip channel connected to destination: kind
// forward, outcome allowed. via says from where it was dialled ("bastion"
// or "target NAME"); origin is the originator address the client sent.
func ForwardOpened(who Who, destination, via, origin string) Event {
	return Event{Kind: KindForward, Outcome: OutcomeAllowed, Who: who,
		Detail: map[DetailKey]string{DetailDestination: destination, DetailVia: via, DetailOrigin: origin}}
}

// UpstreamFailed is a target connection that could not be made (dial,
// host key, handshake or authentication): kind upstream, outcome error.
// message is the line the admin was shown.
func UpstreamFailed(who Who, reason Reason, address, message string) Event {
	return Event{Kind: KindUpstream, Outcome: OutcomeError, Who: who, Reason: reason,
		Detail: map[DetailKey]string{DetailAddress: address, DetailMessage: message}}
}

// UpstreamLost is a target connection that closed while its admin was
// still connected: kind upstream, outcome lost, reason ReasonTargetLost.
// errText says how it closed.
func UpstreamLost(who Who, address, errText string) Event {
	return Event{Kind: KindUpstream, Outcome: OutcomeLost, Who: who, Reason: ReasonTargetLost,
		Detail: map[DetailKey]string{DetailAddress: address, DetailError: errText}}
}

// HostKeyPinned is a target host key trusted on first use and pinned in
// the index: kind hostkey, outcome pinned. Only Who.Target is set (the
// target's label).
func HostKeyPinned(target, address, fingerprint, keyType string) Event {
	return Event{Kind: KindHostKey, Outcome: OutcomePinned, Who: Who{Target: target},
		Detail: map[DetailKey]string{DetailAddress: address, DetailKeyFingerprint: fingerprint, DetailType: keyType}}
}

// HostKeyForgotten is a pin removed by by ("an operator on the bastion"),
// so that the address's next key is trusted on first use: kind hostkey,
// outcome forgotten.
func HostKeyForgotten(by, address, fingerprint, keyType string) Event {
	return Event{Kind: KindHostKey, Outcome: OutcomeForgotten,
		Detail: map[DetailKey]string{DetailAddress: address, DetailKeyFingerprint: fingerprint, DetailType: keyType, DetailBy: by}}
}

// NodeSilent is a recording that node by ("node c") marked interrupted
// because node, which records it, stopped its heartbeat after heartbeat:
// kind recording, outcome interrupted, reason ReasonNodeSilent. The owner
// repairs the row from its file when it comes back.
func NodeSilent(who Who, sessionID, node, by string, heartbeat time.Time) Event {
	return Event{Kind: KindRecording, Outcome: OutcomeInterrupted, Who: who, SessionID: sessionID,
		Reason: ReasonNodeSilent, Detail: map[DetailKey]string{DetailNode: node, DetailBy: by,
			DetailHeartbeat: heartbeat.UTC().Format(time.RFC3339)}}
}
