package proxy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
)

// TestEndSession: an auditor ends a running shell. The admin's terminal
// gets one line naming who and why (control characters dropped) and ssh's
// 255; the recording's exit reason is that line; the audit trail says who
// ended it before the session's own end; an unknown or finished id is
// ErrNoLiveSession.
func TestEndSession(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	if err := f.srv.EndSession("no-such-id", "auditor bob", ""); !errors.Is(err, ErrNoLiveSession) {
		t.Fatalf("unknown id: %v, want ErrNoLiveSession", err)
	}
	s := f.openReadyShell(t)
	f.rec.mu.Lock()
	id := f.rec.sessions[0].info.ID
	f.rec.mu.Unlock()

	if err := f.srv.EndSession(id, "auditor bob", " rm -rf\x1b[2J on prod\r\n"); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	r := s.wait()
	want := "jumpcast: session ended by auditor bob: rm -rf[2J on prod\r\n"
	if !strings.Contains(string(r.stderr), want) || r.status != 255 {
		t.Errorf("admin saw stderr %q status %d, want %q and 255", r.stderr, r.status, want)
	}
	if rec := f.rec.last(t); rec.exit == nil || rec.exit.Reason != "session ended by auditor bob: rm -rf[2J on prod" {
		t.Errorf("recorded exit = %+v", rec.exit)
	}
	ended := f.audit.find(audit.KindSession, audit.OutcomeTerminated)
	if len(ended) != 1 || ended[0].User != "alice" || ended[0].Target != "t1" ||
		ended[0].Detail[audit.DetailBy] != "auditor bob" || ended[0].SessionID != id || ended[0].Reason != "rm -rf[2J on prod" {
		t.Fatalf("terminated events %+v", ended)
	}
	f.audit.waitEvent(t, audit.KindSession, audit.OutcomeEnded)
	for deadline := time.Now().Add(10 * time.Second); f.srv.ActiveSessions() > 0; {
		if time.Now().After(deadline) {
			t.Fatal("the ended session is still open")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := f.srv.EndSession(id, "auditor bob", ""); !errors.Is(err, ErrNoLiveSession) {
		t.Errorf("ended session: %v, want ErrNoLiveSession", err)
	}
}
