package replayweb

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

// endCalls records what the site asked the bastion to end.
type endCalls struct {
	mu    sync.Mutex
	calls []string // "id|by|why"
	err   error
}

func (e *endCalls) end(id, by, why string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, id+"|"+by+"|"+why)
	return e.err
}

func (e *endCalls) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.calls...)
}

// TestAdminEndsALiveSession: only an admin sees the form on a running
// session and may post it; the request reaches the bastion with the
// admin's name and reason, is audited with the session's id, and lands
// back on the recording with a notice. Auditors, a missing CSRF token, a
// finished session, an unknown id and a bastion that no longer runs the
// session do not end anything.
func TestAdminEndsALiveSession(t *testing.T) {
	ends := &endCalls{}
	e := newEnv(t, func(o *Options) { o.EndSession = ends.end })
	live := e.addRecording(recording.Meta{Status: recording.StatusActive, User: "carol"}, sampleCast)
	done := e.addRecording(recording.Meta{}, sampleCast)
	path := "/admin/recordings/" + live.ID + "/end"

	auditor := e.client()
	auditor.login("alice", testPassword)
	if _, page := auditor.get("/recordings/" + live.ID); strings.Contains(page, `id="end-session"`) {
		t.Error("an auditor is offered the form")
	}
	if res, _ := auditor.do(http.MethodPost, path, url.Values{"_csrf": {auditor.csrf()}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("auditor's post: %d, want 403", res.StatusCode)
	}

	admin := e.client()
	admin.ip = "198.51.100.20"
	admin.login("root", testPassword)
	if _, page := admin.get("/recordings/" + done.ID); strings.Contains(page, `id="end-session"`) {
		t.Error("the form is offered on a finished session")
	}
	_, page := admin.get("/recordings/" + live.ID)
	if !strings.Contains(page, `id="end-session"`) || !strings.Contains(page, `action="`+path+`"`) {
		t.Fatal("the admin is not offered the form on the running session")
	}
	if res, _ := admin.do(http.MethodPost, path, url.Values{"reason": {"x"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("post without the CSRF token: %d, want 403", res.StatusCode)
	}
	tok := csrfFrom(t, page)
	if res, _ := admin.do(http.MethodPost, "/admin/recordings/"+done.ID+"/end", url.Values{"_csrf": {tok}}); res.StatusCode != http.StatusConflict {
		t.Errorf("ending a finished session: %d, want 409", res.StatusCode)
	}
	if res, _ := admin.do(http.MethodPost, "/admin/recordings/../../etc/end", url.Values{"_csrf": {tok}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("ending a bad id: %d, want 404", res.StatusCode)
	}
	if res, _ := admin.do(http.MethodPost, path, url.Values{"_csrf": {tok}, "reason": {strings.Repeat("x", maxEndReason+1)}}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("an overlong reason: %d, want 400", res.StatusCode)
	}
	if got := ends.list(); len(got) != 0 {
		t.Fatalf("refused requests reached the bastion: %q", got)
	}

	res, _ := admin.do(http.MethodPost, path, url.Values{"_csrf": {tok}, "reason": {"change freeze"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/recordings/"+live.ID+"?ended=1" {
		t.Fatalf("end: %d %q, want 303 to the recording", res.StatusCode, res.Header.Get("Location"))
	}
	if got := ends.list(); len(got) != 1 || got[0] != live.ID+"|auditor root|change freeze" {
		t.Fatalf("bastion asked %q", got)
	}
	if _, page := admin.get(res.Header.Get("Location")); !strings.Contains(page, `id="end-notice"`) {
		t.Error("no notice after ending")
	}
	if got := auditOf(t, e, live.ID); len(got) != 1 || got[0] != auditLine(audit.KindWebAdmin, "root") {
		t.Errorf("audit events about the session: %q", got)
	}

	ends.err = errors.New("no live session with that id")
	if res, _ := admin.do(http.MethodPost, path, url.Values{"_csrf": {tok}}); res.StatusCode != http.StatusConflict {
		t.Errorf("a session the bastion no longer runs: %d, want 409", res.StatusCode)
	}
	if got := auditOf(t, e, live.ID); len(got) != 1 {
		t.Errorf("a refused end was audited: %q", got)
	}
}

// TestNoEndSessionWithoutTheBastion: a site without Options.EndSession
// offers no form and ends nothing.
func TestNoEndSessionWithoutTheBastion(t *testing.T) {
	e := newEnv(t, nil)
	live := e.addRecording(recording.Meta{Status: recording.StatusActive}, sampleCast)
	admin := e.client()
	admin.login("root", testPassword)
	_, page := admin.get("/recordings/" + live.ID)
	if strings.Contains(page, `id="end-session"`) {
		t.Error("form offered without a bastion")
	}
	if res, _ := admin.do(http.MethodPost, "/admin/recordings/"+live.ID+"/end", url.Values{"_csrf": {csrfFrom(t, page)}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("post: %d, want 404", res.StatusCode)
	}
}

// TestAdminEndsAWholeConnection: the form's second button asks the bastion
// to end the session's whole connection (Options.EndConnection), which is
// audited as its own action; without EndConnection the button is not
// offered.
func TestAdminEndsAWholeConnection(t *testing.T) {
	sessions, conns := &endCalls{}, &endCalls{}
	e := newEnv(t, func(o *Options) { o.EndSession, o.EndConnection = sessions.end, conns.end })
	live := e.addRecording(recording.Meta{Status: recording.StatusActive, User: "carol"}, sampleCast)
	admin := e.client()
	admin.login("root", testPassword)
	_, page := admin.get("/recordings/" + live.ID)
	if !strings.Contains(page, `id="end-button"`) || !strings.Contains(page, `id="end-connection-button"`) {
		t.Fatal("the admin is not offered both: end this session, end the whole connection")
	}
	res, _ := admin.do(http.MethodPost, "/admin/recordings/"+live.ID+"/end",
		url.Values{"_csrf": {csrfFrom(t, page)}, "scope": {"connection"}, "reason": {"incident 42"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/recordings/"+live.ID+"?ended=connection" {
		t.Fatalf("end connection: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if got := conns.list(); len(got) != 1 || got[0] != live.ID+"|auditor root|incident 42" || len(sessions.list()) != 0 {
		t.Fatalf("bastion asked: connections %q, sessions %q", got, sessions.list())
	}
	if _, page := admin.get(res.Header.Get("Location")); !strings.Contains(page, "whole connection") {
		t.Error("no notice after ending the connection")
	}
	evs, _, err := e.store.ListAudit(context.Background(), store.AuditFilter{Kind: audit.KindWebAdmin})
	if err != nil || len(evs) != 1 || evs[0].Detail[audit.DetailAction] != string(audit.ActionEndConnection) || evs[0].SessionID != live.ID {
		t.Errorf("audit: %+v %v", evs, err)
	}

	only := newEnv(t, func(o *Options) { o.EndSession = sessions.end })
	rec := only.addRecording(recording.Meta{Status: recording.StatusActive}, sampleCast)
	a := only.client()
	a.login("root", testPassword)
	if _, page := a.get("/recordings/" + rec.ID); strings.Contains(page, `id="end-connection-button"`) {
		t.Error("ending the connection offered without EndConnection")
	}
}
