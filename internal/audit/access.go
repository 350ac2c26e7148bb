package audit

import (
	"strconv"
	"time"
)

// Events of cutting access: access locks made and lifted, and admin
// connections the bastion closed (a reload that revoked them, a lock, a
// request to end a whole connection).

// Lock describes an access lock, for LockCreated and LockRemoved.
type Lock struct {
	ID      string
	Subject string    // what it names: "user alice", "key SHA256:...", "target db1"
	Reason  string    // the lock's reason, as shown to the admins it locks out
	Expires time.Time // zero: until removed
}

// LockCreated is an access lock made by by ("admin carol", "an operator
// on the bastion"): kind lock, outcome locked. who.User is the web account
// that made it ("" from the command line), who.RemoteAddr its browser's
// address. The reason is the lock's own.
func LockCreated(who Who, by string, l Lock) Event {
	return lockEvent(OutcomeLocked, who, by, l)
}

// LockRemoved is an access lock lifted by by: kind lock, outcome
// unlocked; who and the reason as for LockCreated.
func LockRemoved(who Who, by string, l Lock) Event {
	return lockEvent(OutcomeUnlocked, who, by, l)
}

func lockEvent(o Outcome, who Who, by string, l Lock) Event {
	d := map[DetailKey]string{DetailLock: l.ID, DetailSubject: l.Subject, DetailBy: by}
	if !l.Expires.IsZero() {
		d[DetailExpires] = l.Expires.UTC().Format(time.RFC3339)
	}
	return Event{Kind: KindLock, Outcome: o, Who: who, Reason: Reason(l.Reason), Detail: d}
}

// Closing says why the bastion closed an admin connection, for
// ConnectionClosed.
type Closing struct {
	// Reason is the stable word: ReasonKeyRevoked, ReasonKeyNotAuthorized,
	// ReasonCertificateInvalid, ReasonNotPermitted, ReasonLocked or
	// ReasonEndedOnRequest.
	Reason Reason
	// By is who or what closed it: "reload", "lock 3f9a1c2b0d4e5f60",
	// "auditor bob".
	By string
	// Message is the line every open session's terminal was shown.
	Message string
	// Key is the fingerprint of the key the connection authenticated with.
	Key string
	// Sessions is how many session and forward channels were open.
	Sessions int
}

// ConnectionClosed is an admin connection the bastion closed, with every
// session and forward on it: kind connection, outcome terminated. who is
// the connection's user, address, target and remote user. Each session
// still ends with its own session event.
func ConnectionClosed(who Who, c Closing) Event {
	return Event{Kind: KindConnection, Outcome: OutcomeTerminated, Who: who, Reason: c.Reason,
		Detail: map[DetailKey]string{DetailBy: c.By, DetailMessage: c.Message, DetailKeyFingerprint: c.Key,
			DetailSessions: strconv.Itoa(c.Sessions)}}
}

// ConnectionEndRequested is a running session's whole admin connection
// ended from the web UI: kind web_admin, outcome ok, action
// end_connection; who and why as for SessionEndRequested. (The proxy
// writes its own ConnectionClosed.)
func ConnectionEndRequested(who Who, sessionID, why string) Event {
	var d map[DetailKey]string
	if why != "" {
		d = map[DetailKey]string{DetailReason: why}
	}
	return webAdmin(who, sessionID, ActionEndConnection, "", d)
}
