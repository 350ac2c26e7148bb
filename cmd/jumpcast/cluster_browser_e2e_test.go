package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jumpcast/jumpcast/internal/browsertest"
	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// TestClusterBrowserWatchesAndEndsAnotherNodesSession: an admin in
// Chromium on node C's web site opens a session that runs on node B: the
// page plays it live (what the admin on B types and sees appears), and
// "End this session…" ends it on B; the admin's ssh prints the usual line
// and exits 255. The live page has no console error or CSP violation.
func TestClusterBrowserWatchesAndEndsAnotherNodesSession(t *testing.T) {
	sshtest.RequireBinary(t, browsertest.Chromium)
	tc := startCluster(t, 0, "node-b", "node-c")
	b, c := tc.nodes["node-b"], tc.nodes["node-c"]
	const pw = "cluster browser passphrase"
	if _, errOut, code := runJumpcast(t, pw+"\n", "auditor", "add", "root", "--role", "admin", "-c", c.cfgPath); code != 0 {
		t.Fatalf("auditor add: exit %d: %s", code, errOut)
	}
	live := b.startLiveSSH(t, b.login(), `printf 'live-ready\n'; while read l; do printf 'got:%s\n' "$l"; done`)
	waitOutput(t, live, "live-ready")
	id := activeID(t, c.cfgPath)

	br := browsertest.New(t, 55*time.Second, t.TempDir())
	br.LogIn(t, "http://"+c.srv.WebAddr+"/recordings/"+id, "root", pw)
	br.Do(t, "wait for the live player", chromedp.WaitVisible(chromedp.CSS("#player .xterm-screen")), chromedp.WaitVisible(chromedp.ID("live-note")))
	br.WaitTerminal(t, "live-ready")
	live.send(t, "seen-from-node-c")
	br.WaitTerminal(t, "got:seen-from-node-c")
	br.CheckClean(t, "the live view of another node's session")
	endInBrowser(t, br, "ended from node c")
	if code := live.waitExit(t); code != 255 {
		t.Errorf("ssh on B: exit %d, want 255", code)
	}
	if want := "jumpcast: session ended by auditor root: ended from node c"; !strings.Contains(live.out.String(), want) {
		t.Errorf("ssh printed %q, want %q", live.out.String(), want)
	}
	// The page then shows the finished recording, whose file is on B:
	// until recordings are in a shared bucket, C cannot play it.
}
