package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/browsertest"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

// TestEndSessionFromTheCommandLine: an operator ends a running session of
// the real ssh client with `jumpcast recordings end`. ssh prints the
// bastion's line with the reason and exits 255; the recording is finished,
// ends with a marker naming who and why, and asciinema still reads it;
// the audit log has session/terminated; ending it again is an error.
func TestEndSessionFromTheCommandLine(t *testing.T) {
	e := startE2E(t)
	live := e.startLiveSSH(t, e.login(), "printf 'started\\n'; sleep 60")
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(live.out.String(), "started"); {
		if time.Now().After(deadline) {
			t.Fatalf("ssh printed %q", live.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	recs := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusActive })
	id := recs[0].ID

	out, errOut, code := runJumpcast(t, "", "recordings", "end", id, "--reason", "change freeze", "-c", e.cfgPath)
	if code != 0 || !strings.Contains(out, "ended session "+id) {
		t.Fatalf("recordings end: exit %d, %q %q", code, out, errOut)
	}
	if code := live.waitExit(t); code != 255 {
		t.Errorf("ssh exit %d, want 255", code)
	}
	want := "jumpcast: session ended by an operator on the bastion: change freeze"
	if !strings.Contains(live.out.String(), want) {
		t.Errorf("ssh printed %q, lacking %q", live.out.String(), want)
	}

	recs = waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	data := asciicasttest.ReadFile(t, e.castPath(recs[0]))
	if !strings.Contains(string(data), "[session ended: session ended by an operator on the bastion: change freeze]") {
		t.Errorf("the recording does not say who ended it:\n%s", data)
	}
	if cat := asciinemaCat(t, e.castPath(recs[0])); !strings.Contains(cat, "started") {
		t.Errorf("asciinema cat: %q", cat)
	}
	auditOut, _, _ := runJumpcast(t, "", "audit", "--kind", string(audit.KindSession), "-c", e.cfgPath)
	var terminated bool
	for _, line := range strings.Split(strings.TrimSpace(auditOut), "\n") {
		var ev audit.Event
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Outcome == audit.OutcomeTerminated && ev.SessionID == id &&
			ev.Reason == "change freeze" && ev.Detail[audit.DetailBy] == "an operator on the bastion" {
			terminated = true
		}
	}
	if !terminated {
		t.Errorf("no session/terminated event for %s in:\n%s", id, auditOut)
	}
	if _, errOut, code := runJumpcast(t, "", "recordings", "end", id, "-c", e.cfgPath); code == 0 || !strings.Contains(errOut, "no live session") {
		t.Errorf("ending a finished session: exit %d, %q", code, errOut)
	}
}

// TestBrowserAdminEndsLiveSession: an admin watching a session live in
// Chromium opens "End this session…", gives a reason and ends it. The
// real ssh client prints the line naming the admin and the reason and
// exits 255; the page comes back with its notice and no console error or
// CSP violation.
func TestBrowserAdminEndsLiveSession(t *testing.T) {
	e := startBrowserE2E(t)
	const pw = "browser e2e passphrase"
	if _, errOut, code := runJumpcast(t, pw+"\n", "auditor", "add", "root", "--role", "admin", "-c", e.cfgPath); code != 0 {
		t.Fatalf("auditor add: exit %d: %s", code, errOut)
	}
	live := e.startLiveSSH(t, e.login(), `printf 'live-ready\n'; while read l; do printf 'got:%s\n' "$l"; done`)
	recs := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusActive })
	id := recs[0].ID

	b := browsertest.New(t, 55*time.Second, t.TempDir())
	art := browsertest.ArtifactDir(t, "end")
	b.LogIn(t, "http://"+e.srv.WebAddr+"/recordings/"+id, "root", pw)
	b.Do(t, "wait for the live player", chromedp.WaitVisible(chromedp.CSS("#player .xterm-screen")), chromedp.WaitVisible(chromedp.ID("live-note")))
	b.WaitTerminal(t, "live-ready")
	endInBrowser(t, b, "change freeze")
	if code := live.waitExit(t); code != 255 {
		t.Errorf("ssh exit %d, want 255", code)
	}
	if want := "jumpcast: session ended by auditor root: change freeze"; !strings.Contains(live.out.String(), want) {
		t.Errorf("ssh printed %q, want %q", live.out.String(), want)
	}
	b.Screenshot(t, art, "end-done.png")
	b.CheckClean(t, "end session")
}

// endInBrowser ends the session of the recording page b shows with its
// "End this session…" form, giving why, and waits for the page's notice.
func endInBrowser(t *testing.T, b *browsertest.Browser, why string) {
	t.Helper()
	b.Do(t, "open the form",
		chromedp.Click(chromedp.CSS("#end-session summary")),
		chromedp.WaitVisible(chromedp.ID("end-reason")),
		chromedp.SendKeys(chromedp.ID("end-reason"), why),
	)
	b.Load(t, "end the session", chromedp.Click(chromedp.ID("end-button")))
	b.Do(t, "see the notice", chromedp.WaitVisible(chromedp.ID("end-notice")))
}
