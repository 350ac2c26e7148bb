package audit

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

// TestEventJSONIsStable pins Event's encoding to the bytes store.AuditEvent
// wrote before this package existed: existing bbolt databases and API
// clients read the same fields in the same order.
func TestEventJSONIsStable(t *testing.T) {
	for _, tt := range []struct {
		name string
		ev   Event
		want string
	}{
		{
			name: "every field",
			ev: Event{ID: 7, Time: time.Date(2026, 12, 1, 10, 0, 0, 5, time.UTC), Kind: KindSession, Outcome: OutcomeEnded,
				Who:       Who{User: "alice", RemoteAddr: "192.0.2.7:50000", Target: "db1", RemoteUser: "root"},
				SessionID: "20261201T100000Z-abc", Reason: ReasonClientGone,
				Detail: map[DetailKey]string{DetailBytesOut: "2", DetailBytesIn: "1"}},
			want: `{"id":7,"time":"2026-12-01T10:00:00.000000005Z","kind":"session","outcome":"ended","user":"alice","remote_addr":"192.0.2.7:50000","target":"db1","remote_user":"root","session_id":"20261201T100000Z-abc","reason":"client disconnected","detail":{"bytes_in":"1","bytes_out":"2"}}`,
		},
		{
			name: "empty fields left out",
			ev:   Event{Kind: KindAuth, Outcome: OutcomeDenied},
			want: `{"id":0,"time":"0001-01-01T00:00:00Z","kind":"auth","outcome":"denied"}`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.ev)
			if err != nil || string(b) != tt.want {
				t.Fatalf("json.Marshal = %s, %v\nwant %s", b, err, tt.want)
			}
			var back Event
			if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, tt.ev) {
				t.Errorf("round trip = %+v, %v; want %+v", back, err, tt.ev)
			}
		})
	}
}

// TestConstructors checks each constructor's kind, outcome, reason and
// detail: the words internal/metrics and the audit trail's readers decode.
func TestConstructors(t *testing.T) {
	who := Who{User: "alice", RemoteAddr: "192.0.2.7:5000", Target: "db1", RemoteUser: "root"}
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	for _, tt := range []struct {
		name string
		got  Event
		want Event
	}{
		{"auth ok, plain key", AuthOK("alice", "192.0.2.7:5000", "root@db1", Key{Fingerprint: "SHA256:k"}),
			Event{Kind: KindAuth, Outcome: OutcomeOK, Who: Who{User: "alice", RemoteAddr: "192.0.2.7:5000"},
				Detail: map[DetailKey]string{"key": "SHA256:k", "login": "root@db1"}}},
		{"auth ok, certificate", AuthOK("alice", "a", "l", Key{Fingerprint: "k", CA: "c", CertKeyID: "id"}),
			Event{Kind: KindAuth, Outcome: OutcomeOK, Who: Who{User: "alice", RemoteAddr: "a"},
				Detail: map[DetailKey]string{"key": "k", "login": "l", "ca": "c", "cert_key_id": "id"}}},
		{"auth denied", AuthDenied("192.0.2.7:5000", "no key offered"),
			Event{Kind: KindAuth, Outcome: OutcomeDenied, Who: Who{RemoteAddr: "192.0.2.7:5000"},
				Reason: "no authorized key", Detail: map[DetailKey]string{"why": "no key offered"}}},
		{"policy denied", PolicyDecided(who, false, ReasonTargetNotPermitted, "10.0.0.5:22", "k"),
			Event{Kind: KindPolicy, Outcome: OutcomeDenied, Who: who, Reason: "target not permitted",
				Detail: map[DetailKey]string{"address": "10.0.0.5:22", "key": "k"}}},
		{"policy allowed", PolicyDecided(who, true, ReasonRuleMatched, "a", "k"),
			Event{Kind: KindPolicy, Outcome: OutcomeAllowed, Who: who, Reason: "rule matched",
				Detail: map[DetailKey]string{"address": "a", "key": "k"}}},
		{"session started", SessionStarted(who, "id1", Start{Kind: "exec", Command: "uptime", Address: "a", TargetLogin: "new"}),
			Event{Kind: KindSession, Outcome: OutcomeStarted, Who: who, SessionID: "id1",
				Detail: map[DetailKey]string{"kind": "exec", "command": "uptime", "address": "a", "target_login": "new"}}},
		{"echo kept on", EchoKeptOn(who),
			Event{Kind: KindSession, Outcome: OutcomeOverridden, Who: who, Reason: "client asked for echo off"}},
		{"session started, command cut", SessionStarted(who, "id1", Start{Kind: "exec", Command: "cat <<EOF", CommandLen: 122880, Address: "a", TargetLogin: "new"}),
			Event{Kind: KindSession, Outcome: OutcomeStarted, Who: who, SessionID: "id1",
				Detail: map[DetailKey]string{"kind": "exec", "command": "cat <<EOF", "command_len": "122880", "address": "a", "target_login": "new"}}},
		{"session denied", SessionDenied(who, ReasonBadLogin, "m"),
			Event{Kind: KindSession, Outcome: OutcomeDenied, Who: who, Reason: "malformed login name",
				Detail: map[DetailKey]string{"message": "m"}}},
		{"session ended with status", SessionEnded(who, "id1", End{HasStatus: true, Status: 3, Duration: 1500 * time.Millisecond, BytesIn: 11, BytesOut: 1000}),
			Event{Kind: KindSession, Outcome: OutcomeEnded, Who: who, SessionID: "id1",
				Detail: map[DetailKey]string{"exit_status": "3", "exit_signal": "", "duration": "1.5s", "bytes_in": "11", "bytes_out": "1000"}}},
		{"session ended by the client", SessionEnded(who, "id1", End{Reason: ReasonClientGone}),
			Event{Kind: KindSession, Outcome: OutcomeEnded, Who: who, SessionID: "id1", Reason: "client disconnected",
				Detail: map[DetailKey]string{"exit_status": "", "exit_signal": "", "duration": "0s", "bytes_in": "0", "bytes_out": "0"}}},
		{"session terminated", SessionTerminated(who, "id1", "auditor bob", "freeze"),
			Event{Kind: KindSession, Outcome: OutcomeTerminated, Who: who, SessionID: "id1", Reason: "freeze",
				Detail: map[DetailKey]string{"by": "auditor bob"}}},
		{"recording failed", RecordingFailed(who, "id1", errors.New("disk full"), "fail-open"),
			Event{Kind: KindRecording, Outcome: OutcomeError, Who: who, SessionID: "id1", Reason: "disk full",
				Detail: map[DetailKey]string{"on_failure": "fail-open"}}},
		{"forward denied", ForwardDenied(who, ReasonNotPermitted, "t1:22"),
			Event{Kind: KindForward, Outcome: OutcomeDenied, Who: who, Reason: "not permitted",
				Detail: map[DetailKey]string{"destination": "t1:22"}}},
		{"forward opened", ForwardOpened(who, "t1:22", "bastion", "127.0.0.1:0"),
			Event{Kind: KindForward, Outcome: OutcomeAllowed, Who: who,
				Detail: map[DetailKey]string{"destination": "t1:22", "via": "bastion", "origin": "127.0.0.1:0"}}},
		{"upstream failed", UpstreamFailed(who, ReasonUnreachable, "a", "m"),
			Event{Kind: KindUpstream, Outcome: OutcomeError, Who: who, Reason: "target unreachable",
				Detail: map[DetailKey]string{"address": "a", "message": "m"}}},
		{"upstream lost", UpstreamLost(who, "a", "EOF"),
			Event{Kind: KindUpstream, Outcome: OutcomeLost, Who: who, Reason: "target connection lost",
				Detail: map[DetailKey]string{"address": "a", "error": "EOF"}}},
		{"host key pinned", HostKeyPinned("db1 (a)", "a", "SHA256:h", "ssh-ed25519"),
			Event{Kind: KindHostKey, Outcome: OutcomePinned, Who: Who{Target: "db1 (a)"},
				Detail: map[DetailKey]string{"address": "a", "key": "SHA256:h", "type": "ssh-ed25519"}}},
		{"web login ok", WebLoginOK("bob"), Event{Kind: KindWebLogin, Outcome: OutcomeOK, Who: Who{User: "bob"}}},
		{"web login denied", WebLoginDenied("bob"),
			Event{Kind: KindWebLogin, Outcome: OutcomeDenied, Who: Who{User: "bob"}, Reason: "wrong name or password"}},
		{"previewed", Previewed(who, "id1"),
			Event{Kind: KindPreview, Outcome: OutcomeOK, Who: who, SessionID: "id1", Detail: map[DetailKey]string{"via": "web"}}},
		{"played live", Played(who, "id1", "web", "", true),
			Event{Kind: KindPlayback, Outcome: OutcomeOK, Who: who, SessionID: "id1", Detail: map[DetailKey]string{"via": "web", "live": "true"}}},
		{"downloaded with a token", Downloaded(who, "id1", "api", "t1"),
			Event{Kind: KindDownload, Outcome: OutcomeOK, Who: who, SessionID: "id1", Detail: map[DetailKey]string{"via": "api", "token": "t1"}}},
		{"verified", Verified(who, "id1", true, "ab", ""),
			Event{Kind: KindVerify, Outcome: OutcomeOK, Who: who, SessionID: "id1", Detail: map[DetailKey]string{"sha256": "ab"}}},
		{"verify failed", Verified(who, "id1", false, "ab", "checksum mismatch"),
			Event{Kind: KindVerify, Outcome: OutcomeFailed, Who: who, SessionID: "id1",
				Detail: map[DetailKey]string{"sha256": "ab", "problem": "checksum mismatch"}}},
		{"searched", Searched("bob", "rm -rf", 20),
			Event{Kind: KindSearch, Outcome: OutcomeOK, Who: Who{User: "bob"}, Detail: map[DetailKey]string{"screen": "rm -rf", "recordings": "20"}}},
		{"account put", AccountPut("ann", "carol", "auditor"),
			Event{Kind: KindWebAdmin, Outcome: OutcomeOK, Who: Who{User: "ann"},
				Detail: map[DetailKey]string{"action": "put_auditor", "subject": "carol", "role": "auditor"}}},
		{"account deleted", AccountDeleted("ann", "carol"),
			Event{Kind: KindWebAdmin, Outcome: OutcomeOK, Who: Who{User: "ann"},
				Detail: map[DetailKey]string{"action": "delete_auditor", "subject": "carol"}}},
		{"token created", TokenCreated("ann", "ann", "t1", "ci"),
			Event{Kind: KindWebAdmin, Outcome: OutcomeOK, Who: Who{User: "ann"},
				Detail: map[DetailKey]string{"action": "create_token", "subject": "ann", "token": "t1", "name": "ci"}}},
		{"token deleted", TokenDeleted("ann", "t1"),
			Event{Kind: KindWebAdmin, Outcome: OutcomeOK, Who: Who{User: "ann"}, Detail: map[DetailKey]string{"action": "delete_token", "token": "t1"}}},
		{"session end requested", SessionEndRequested(Who{User: "ann", Target: "db1", RemoteUser: "root"}, "id1", ""),
			Event{Kind: KindWebAdmin, Outcome: OutcomeOK, Who: Who{User: "ann", Target: "db1", RemoteUser: "root"}, SessionID: "id1",
				Detail: map[DetailKey]string{"action": "end_session"}}},
		{"purged", Purged(who, "id1", 4096, at, "720h0m0s", "10.0 GiB"),
			Event{Kind: KindPurge, Outcome: OutcomeOK, Who: who, SessionID: "id1",
				Reason: "retention (max_age 720h0m0s, max_total_size 10.0 GiB)",
				Detail: map[DetailKey]string{"bytes": "4096", "start": "2026-12-01T09:00:00Z"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", tt.got, tt.want)
			}
		})
	}
}

func TestRemoteUserNotPermitted(t *testing.T) {
	if got := RemoteUserNotPermitted("root"); got != "remote user root not permitted" {
		t.Errorf("RemoteUserNotPermitted(root) = %q", got)
	}
}
