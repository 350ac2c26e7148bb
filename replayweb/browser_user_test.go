package replayweb

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/browsertest"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

// TestBrowserUserSeesOwnSessions: alice, a user account, signs in with a
// real Chromium and finds one row (hers among bob's), a person field fixed
// to her name, her session playing, and bob's recording "not found".
func TestBrowserUserSeesOwnSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("real browser")
	}
	e := newEnv(t, nil)
	e.addAccount("alice", store.RoleUser)
	var bobs []recording.Meta
	for range 3 {
		bobs = append(bobs, e.addRecording(recording.Meta{User: "bob", RemoteUser: "www", TargetAlias: "web1", Kind: "shell", Title: "bob-only work"}, sampleCast))
	}
	rec := e.recordSession(t, "alice", "db1", "root", []string{"$ echo mine\r\n", "alice-own-output\r\n", "$ exit\r\n"})
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	b := browsertest.New(t, 45*time.Second, "")
	dir := browsertest.ArtifactDir(t, "replayweb")

	b.LogIn(t, ts.URL+"/?user=bob", "alice", testPassword) // a user account
	b.Do(t, "see the list", chromedp.WaitVisible(chromedp.ID("recordings")))
	ids := b.Eval(t, `Array.from(document.querySelectorAll("#recordings tbody tr")).map(r => r.dataset.id).join(",")`)
	if ids != rec.ID {
		t.Fatalf("alice's list (asked for user=bob): rows %q, want only %s", ids, rec.ID)
	}
	if got := b.Eval(t, `(() => { const i = document.getElementById("only-person"); return i ? i.value + "/" + i.disabled : "none" })()`); got != "alice/true" {
		t.Errorf("person field: %q, want alice, disabled", got)
	}
	if got := b.Eval(t, `String(document.querySelector('input[name="user"]'))`); got != "null" {
		t.Errorf("a person filter is offered: %s", got)
	}
	b.Screenshot(t, dir, "user-list.png")
	b.CheckClean(t, "user list")

	b.Load(t, "open her recording", chromedp.Click(chromedp.CSS(`#recordings tr[data-id="`+rec.ID+`"] a`)))
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](`!!(window.jumpcastPlayer && window.jumpcastPlayer.getDuration() > 0)`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("player never loaded her recording: %v; page problems: %s", err, b.ProblemsSoFar())
	}
	b.Do(t, "seek to the end", chromedp.Evaluate[chromedp.Void](`window.jumpcastPlayer.seek(window.jumpcastPlayer.getDuration())`, chromedp.EvalAwaitPromise))
	b.WaitTerminal(t, "alice-own-output")
	b.CheckClean(t, "user player")

	b.Load(t, "open bob's recording by its address", chromedp.Navigate(ts.URL+"/recordings/"+bobs[0].ID))
	body := b.Eval(t, `document.body.innerText`)
	if !strings.Contains(body, "no such recording") || strings.Contains(body, "bob-only") {
		t.Errorf("bob's recording as alice: %.300q", body)
	}
	if ev := auditOf(t, e, bobs[0].ID); len(ev) != 0 {
		t.Errorf("audit about bob's recording: %v", ev)
	}
	if ev := auditOf(t, e, rec.ID); !slices.Equal(ev, []string{auditLine(audit.KindPreview, "alice"), auditLine(audit.KindPlayback, "alice")}) {
		t.Errorf("audit of her preview and playback: %v", ev)
	}
}
