package audit

import (
	"strconv"
	"time"
)

// Events of the web site and the retention job. The web site sets
// Who.RemoteAddr (the browser's address) itself when it stores them.

// WebLoginOK is a successful sign-in of web account name: kind web_login,
// outcome ok.
func WebLoginOK(name string) Event {
	return Event{Kind: KindWebLogin, Outcome: OutcomeOK, Who: Who{User: name}}
}

// WebLoginDenied is a refused sign-in as name (which may not exist): kind
// web_login, outcome denied, reason ReasonWrongPassword.
func WebLoginDenied(name string) Event {
	return Event{Kind: KindWebLogin, Outcome: OutcomeDenied, Who: Who{User: name}, Reason: ReasonWrongPassword}
}

// Played is a recording played in the browser: kind playback, outcome
// ok. who.User is the viewer, who.Target and who.RemoteUser the
// recording's; via is "web"; live marks a session watched while it runs;
// token is the API token's id when one was used ("" otherwise).
func Played(who Who, sessionID, via, token string, live bool) Event {
	ev := castRead(KindPlayback, who, sessionID, via, token)
	if live {
		ev.Detail[DetailLive] = "true"
	}
	return ev
}

// Previewed is a recording's screen shown in the list of recordings (its
// most active moment, as a small preview), via "web": kind preview,
// outcome ok. Who as for Played.
func Previewed(who Who, sessionID string) Event {
	return castRead(KindPreview, who, sessionID, "web", "")
}

// Downloaded is a recording file downloaded, from the web page or the API
// (via "web" or "api"): kind download, outcome ok. Who and token as for
// Played.
func Downloaded(who Who, sessionID, via, token string) Event {
	return castRead(KindDownload, who, sessionID, via, token)
}

func castRead(kind Kind, who Who, sessionID, via, token string) Event {
	d := map[DetailKey]string{DetailVia: via}
	if token != "" {
		d[DetailToken] = token
	}
	return Event{Kind: kind, Outcome: OutcomeOK, Who: who, SessionID: sessionID, Detail: d}
}

// Verified is a recording's file checked against its stored checksum:
// kind verify, outcome ok, or failed with problem saying what was wrong.
// sha256 is the checksum computed now.
func Verified(who Who, sessionID string, ok bool, sha256, problem string) Event {
	ev := Event{Kind: KindVerify, Outcome: OutcomeOK, Who: who, SessionID: sessionID,
		Detail: map[DetailKey]string{DetailSHA256: sha256}}
	if !ok {
		ev.Outcome, ev.Detail[DetailProblem] = OutcomeFailed, problem
	}
	return ev
}

// Archived is a recording re-encoded in the archived format (recordings
// compact, or recording.archive_after): kind archive, outcome ok. The
// recording's file was wasBytes with checksum wasSHA256; it is now bytes
// with sha256, and both decode to the plain asciicast of checksum plain.
func Archived(who Who, sessionID string, wasBytes int64, wasSHA256 string, bytes int64, sha256, plain string) Event {
	return Event{Kind: KindArchive, Outcome: OutcomeOK, Who: who, SessionID: sessionID,
		Detail: map[DetailKey]string{
			DetailPrevBytes: strconv.FormatInt(wasBytes, 10), DetailPrevSHA256: wasSHA256,
			DetailBytes: strconv.FormatInt(bytes, 10), DetailSHA256: sha256, DetailPlainSHA256: plain,
		}}
}

// Searched is a search of recordings' contents for text by user, written
// before any file is read: kind search, outcome ok. recordings is how many
// recordings the search may read.
func Searched(user, text string, recordings int) Event {
	return Event{Kind: KindSearch, Outcome: OutcomeOK, Who: Who{User: user},
		Detail: map[DetailKey]string{DetailScreen: text, DetailRecordings: strconv.Itoa(recordings)}}
}

// AuditExported is the audit log, filtered by filter (a URL query),
// exported by user as format (jsonl or csv), written before anything is
// sent: kind audit_export, outcome ok.
func AuditExported(user, filter, format string) Event {
	return Event{Kind: KindAuditExport, Outcome: OutcomeOK, Who: Who{User: user},
		Detail: map[DetailKey]string{DetailFilter: filter, DetailFormat: format}}
}

// AccountPut is a web account created or replaced by admin: kind
// web_admin, outcome ok, action put_auditor.
func AccountPut(admin, name, role string) Event {
	return webAdmin(Who{User: admin}, "", ActionPutAccount, name, map[DetailKey]string{DetailRole: role})
}

// AccountDeleted is a web account deleted by admin: kind web_admin,
// outcome ok, action delete_auditor.
func AccountDeleted(admin, name string) Event {
	return webAdmin(Who{User: admin}, "", ActionDeleteAccount, name, nil)
}

// TokenCreated is an API token made by admin for owner: kind web_admin,
// outcome ok, action create_token. The secret is never in the event.
func TokenCreated(admin, owner, tokenID, name string) Event {
	return webAdmin(Who{User: admin}, "", ActionCreateToken, owner,
		map[DetailKey]string{DetailToken: tokenID, DetailName: name})
}

// TokenDeleted is an API token revoked by admin: kind web_admin, outcome
// ok, action delete_token.
func TokenDeleted(admin, tokenID string) Event {
	return webAdmin(Who{User: admin}, "", ActionDeleteToken, "", map[DetailKey]string{DetailToken: tokenID})
}

// SessionEndRequested is a running session ended from the web UI: kind
// web_admin, outcome ok, action end_session. who.User is the admin,
// who.Target and who.RemoteUser the session's; why, when given, is in
// Detail under DetailReason. (The proxy writes its own SessionTerminated.)
func SessionEndRequested(who Who, sessionID, why string) Event {
	var d map[DetailKey]string
	if why != "" {
		d = map[DetailKey]string{DetailReason: why}
	}
	return webAdmin(who, sessionID, ActionEndSession, "", d)
}

// webAdmin builds a web_admin event; subject "" is left out.
func webAdmin(who Who, sessionID string, action Action, subject string, d map[DetailKey]string) Event {
	if d == nil {
		d = map[DetailKey]string{}
	}
	d[DetailAction] = string(action)
	if subject != "" {
		d[DetailSubject] = subject
	}
	return Event{Kind: KindWebAdmin, Outcome: OutcomeOK, Who: who, SessionID: sessionID, Detail: d}
}

// Purged is a recording removed by the retention job: kind purge, outcome
// ok. who is the recording's user, target and remote user; the reason
// names the limits (maxAge, maxTotalSize as configured) that chose it.
func Purged(who Who, sessionID string, bytes int64, start time.Time, maxAge, maxTotalSize string) Event {
	return Event{Kind: KindPurge, Outcome: OutcomeOK, Who: who, SessionID: sessionID,
		Reason: retention(maxAge, maxTotalSize),
		Detail: map[DetailKey]string{DetailBytes: strconv.FormatInt(bytes, 10), DetailStart: start.UTC().Format(time.RFC3339)}}
}
