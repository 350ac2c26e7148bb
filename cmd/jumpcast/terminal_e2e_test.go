package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/coder/websocket"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/browsertest"
	"github.com/jumpcast/jumpcast/internal/recording"
)

// TestBrowserTerminal: alice, signed in with her second factor, opens a
// shell on a real sshd from the browser through `jumpcast serve`, runs
// commands with UTF-8 output, resizes the window, runs a full-screen
// program and exits with a status; the recording holds exactly the bytes
// the page received, plays back in the player, and its audit events say
// via web. Then the refusals: db2 (no web_terminal), another origin, a
// reused ticket, dave without a second factor; and a lock closes an open
// terminal within a second.
func TestBrowserTerminal(t *testing.T) {
	e := startTerminalE2E(t, "idle_timeout: 1m")
	b := browsertest.New(t, 110*time.Second, "")
	art := browsertest.ArtifactDir(t, "terminal")
	var got frames
	got.listen(t, b)

	e.logInWithCode(t, b, "")
	b.Load(t, "open the Terminal page", chromedp.Navigate(e.site+"/terminal"))
	if rows := b.Eval(t, `Array.from(document.querySelectorAll("#grants tbody tr")).map(function (r) { return r.textContent.replace(/\s+/g, " ").trim(); }).join("|")`); !strings.Contains(rows, "db1") ||
		!strings.Contains(rows, "db2") || !strings.Contains(rows, "ssh only") {
		t.Fatalf("Connect page rows: %q", rows)
	}
	b.CheckClean(t, "connect page")
	b.Load(t, "connect to db1", chromedp.Click(chromedp.CSS(`#grants form.connect button`)))
	waitConnected(t, b)

	typeLine(t, b, `printf 'web-\303\251t\303\251 \342\234\223 %s\n' "$((6*7))"`)
	waitScreen(t, b, "web-été ✓ 42")
	before := termSize(t, b, "")
	b.Do(t, "make the window smaller", chromedp.EmulateViewport(900, 600))
	if after := termSize(t, b, before); after == before {
		t.Fatalf("stty size stayed %q: the resize did not reach the target", before)
	} else {
		t.Logf("stty size %s, then %s after the resize", before, after)
	}

	// A paste (the browser's paste event, as Ctrl+V or the context menu
	// makes it) reaches the shell as typed text.
	b.Do(t, "paste", chromedp.Evaluate[chromedp.Void](`(function () { var dt = new DataTransfer(); dt.setData("text/plain", "echo pasted-\u00fc-ok");
		document.querySelector("#term .xterm-helper-textarea").dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true })); })()`))
	b.Do(t, "press Enter", chromedp.KeyEvent(kb.Enter))
	waitScreen(t, b, "pasted-ü-ok\n")

	typeLine(t, b, "vi -u NONE -c 'set nocompatible'")
	waitScreen(t, b, "~")
	typeLine(t, b, "ifull-screen-text")
	b.Do(t, "leave insert mode", chromedp.KeyEvent(kb.Escape))
	waitScreen(t, b, "full-screen-text")
	b.Screenshot(t, art, "terminal-vi.png")
	typeLine(t, b, ":q!")
	// vi leaves the alternate screen; what is typed before it has reset the
	// terminal modes would be flushed.
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](`!(`+screenJS+`).includes("full-screen-text")`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("vi did not leave the screen: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	typeLine(t, b, "echo back-from-vi")
	waitScreen(t, b, "back-from-vi")
	b.Screenshot(t, art, "terminal.png")
	typeLine(t, b, "exit 3")
	b.Do(t, "wait for the end", chromedp.WaitVisible(chromedp.ID("term-ended")))
	if status := b.Eval(t, `document.getElementById("term").dataset.exit`); status != "3" {
		t.Errorf("exit status on the page %q, want 3", status)
	}
	if text := b.Eval(t, `document.getElementById("term-ended-text").textContent`); !strings.Contains(text, "exit status 3") {
		t.Errorf("end message %q", text)
	}
	b.CheckClean(t, "terminal")
	received := got.take()

	recs := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	rec := recs[0]
	if rec.User != "alice" || rec.TargetAlias != "db1" || rec.KeyFingerprint != "web:alice" || rec.ExitStatus == nil || *rec.ExitStatus != 3 {
		t.Errorf("recording row %+v", rec)
	}
	_, cast := castOutput(t, e.castPath(rec))
	// asciicast is JSON text: a byte that is not UTF-8 (vi's terminal
	// probe sends a lone 0xBD) is recorded as U+FFFD, as encoding/json
	// writes it; every other byte is the page's.
	if received := []byte(asJSONText(received)); cast != string(received) {
		i := 0
		for i < len(cast) && i < len(received) && cast[i] == received[i] {
			i++
		}
		t.Errorf("the recording's output (%d bytes) differs from what the page received (%d bytes) at byte %d: recording %q, page %q",
			len(cast), len(received), i, cast[max(0, i-20):min(len(cast), i+40)], received[max(0, i-20):min(len(received), i+40)])
	}
	auditOut, errOut, code := runJumpcast(t, "", "audit", "-c", e.cfgPath)
	if code != 0 {
		t.Fatalf("audit: %d %s", code, errOut)
	}
	if !strings.Contains(auditOut, `"via":"`+audit.ViaWeb+`"`) {
		t.Errorf("no via web audit event in %s", auditOut)
	}

	b.Load(t, "play the recording", chromedp.Navigate(e.site+"/recordings/"+rec.ID))
	b.Do(t, "wait for the player", chromedp.WaitVisible(chromedp.CSS("#player .xterm-screen")))
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](`!!(window.jumpcastPlayer && window.jumpcastPlayer.getDuration() > 0)`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the player never loaded: %v", err)
	}
	b.Do(t, "seek to the end", chromedp.Evaluate[chromedp.Void](`window.jumpcastPlayer.seek(window.jumpcastPlayer.getDuration())`, chromedp.EvalAwaitPromise))
	b.WaitTerminal(t, "back-from-vi")

	e.passwordInThePage(t, b)
	e.refusals(t, b)
	e.logoutCloses(t, b)
	e.lockCloses(t, b)
	e.daveRefused(t)
}

// passwordInThePage: pw1 takes only a password; the page asks for it in
// its own field (not in the terminal), the shell opens, and the password
// is in neither the recording nor the server's log.
func (e *termE2E) passwordInThePage(t *testing.T, b *browsertest.Browser) {
	t.Helper()
	b.Load(t, "open the Terminal page", chromedp.Navigate(e.site+"/terminal"))
	b.Load(t, "connect to pw1", chromedp.Click(chromedp.CSS(`#grants form.connect:has(input[value="pw1"]) button`)))
	b.Do(t, "wait for the password field", chromedp.WaitVisible(chromedp.ID("term-answer")))
	if q := b.Eval(t, `document.getElementById("term-ask-text").textContent + "|" + document.getElementById("term-answer").type`); !strings.HasSuffix(q, "Password: |password") {
		t.Errorf("the page asks %q, want the target's prompt in a password field", q)
	}
	b.Do(t, "answer", chromedp.SendKeys(chromedp.ID("term-answer"), termTargetPassword+kb.Enter))
	waitConnected(t, b)
	typeLine(t, b, "echo on-pw1-ok; exit 0")
	b.Do(t, "wait for the end", chromedp.WaitVisible(chromedp.ID("term-ended")))
	waitScreen(t, b, "on-pw1-ok")
	recs := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool {
		return r.TargetAlias == "pw1" && r.Status == recording.StatusFinished
	})
	for _, r := range recs {
		if r.TargetAlias != "pw1" {
			continue
		}
		if _, all := castData(t, e.castPath(r), "oir"); strings.Contains(all, termTargetPassword) {
			t.Error("the target's password is in the recording")
		}
	}
	if strings.Contains(e.srv.Stderr.String(), termTargetPassword) {
		t.Error("the target's password is in the server's log")
	}
}

// refusals: no web_terminal for db2; another origin; a ticket used twice.
func (e *termE2E) refusals(t *testing.T, b *browsertest.Browser) {
	t.Helper()
	hc, csrf := e.client(t, b)
	if status, _, body := e.open(t, hc, csrf, "db2"); status != http.StatusForbidden || !strings.Contains(body, "may not open") {
		t.Errorf("db2 from the browser: %d, want 403 with the reason", status)
	}
	status, ticket, body := e.open(t, hc, csrf, "db1")
	if status != http.StatusOK || ticket == "" {
		t.Fatalf("open db1: %d %s", status, body)
	}
	if ws, st, err := e.dialTerm(hc, ticket, "http://evil.example"); err == nil || st != http.StatusForbidden {
		if ws != nil {
			_ = ws.CloseNow()
		}
		t.Errorf("another origin: status %d err %v, want 403", st, err)
	}
	ws, st, err := e.dialTerm(hc, ticket, e.site)
	if err != nil {
		t.Fatalf("the site's origin with a fresh ticket: %d %v", st, err)
	}
	_ = ws.Close(websocket.StatusNormalClosure, "")
	if ws, st, err := e.dialTerm(hc, ticket, e.site); err == nil || st != http.StatusForbidden {
		if ws != nil {
			_ = ws.CloseNow()
		}
		t.Errorf("a reused ticket: status %d err %v, want 403", st, err)
	}
}

// logoutCloses: ending the web login (here from another client holding
// the same login) closes its open terminal within a second; signing in
// again (with the second factor) and Reconnect open a new one.
func (e *termE2E) logoutCloses(t *testing.T, b *browsertest.Browser) {
	t.Helper()
	e.openTerminal(t, b)
	hc, csrf := e.client(t, b)
	res, err := hc.PostForm(e.site+"/logout", url.Values{"_csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	out := time.Now()
	b.Do(t, "wait for the end", chromedp.WaitVisible(chromedp.ID("term-ended")))
	if took := time.Since(out); took > time.Second {
		t.Errorf("the terminal ended %v after the logout, want within a second", took)
	}
	if text := b.Eval(t, `document.getElementById("term-ended-text").textContent`); !strings.Contains(text, "web login ended") {
		t.Errorf("end message after logout %q", text)
	}
	e.logInWithCode(t, b, termRecovery)
}

// lockCloses: a lock on alice, made with the CLI, ends her open terminal
// within a second, with the lock's line on its screen.
func (e *termE2E) lockCloses(t *testing.T, b *browsertest.Browser) {
	t.Helper()
	e.openTerminal(t, b)
	typeLine(t, b, "echo before-the-lock")
	waitScreen(t, b, "before-the-lock")
	if _, errOut, code := runJumpcast(t, "", "lock", "alice", "--reason", "web lock test", "-c", e.cfgPath); code != 0 {
		t.Fatalf("lock: %d %s", code, errOut)
	}
	locked := time.Now()
	b.Do(t, "wait for the end", chromedp.WaitVisible(chromedp.ID("term-ended")))
	took := time.Since(locked)
	t.Logf("the terminal ended %v after the lock command returned", took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("the terminal ended %v after the lock, want within a second", took)
	}
	waitScreen(t, b, "web lock test")
}

// daveRefused: dave signed in without a second factor; his terminal is
// refused with the reason.
func (e *termE2E) daveRefused(t *testing.T) {
	t.Helper()
	b := browsertest.New(t, 40*time.Second, "")
	b.LogIn(t, e.site+"/login", "dave", termPassword)
	b.Load(t, "open the Terminal page", chromedp.Navigate(e.site+"/terminal"))
	b.Load(t, "connect to db1", chromedp.Click(chromedp.CSS(`#grants form.connect button`)))
	if msg := b.Eval(t, `(document.getElementById("connect-error") || {}).textContent || ""`); !strings.Contains(msg, "second factor") {
		t.Errorf("dave without a second factor: %q", msg)
	}
}

// TestBrowserTerminalLimits: with max_sessions 1 a second terminal is
// refused while the first is open; a terminal without input closes after
// idle_timeout with the reason, and frees its slot.
func TestBrowserTerminalLimits(t *testing.T) {
	e := startTerminalE2E(t, "idle_timeout: 2s\n    max_sessions: 1")
	b := browsertest.New(t, 60*time.Second, "")
	e.logInWithCode(t, b, "")
	b.Load(t, "open the Terminal page", chromedp.Navigate(e.site+"/terminal"))
	hc, csrf := e.client(t, b)
	status, ticket, body := e.open(t, hc, csrf, "db1")
	if status != http.StatusOK {
		t.Fatalf("open db1: %d %s", status, body)
	}
	dialed := time.Now() // the idle clock starts with the terminal
	ws, st, err := e.dialTerm(hc, ticket, e.site)
	if err != nil {
		t.Fatalf("socket: %d %v", st, err)
	}
	defer func() { _ = ws.CloseNow() }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var ready bool
	var exit string
	var idle time.Duration
	// Read on after the exit message, as the page does, until the server
	// closes the socket: reading is what answers its close frame, and
	// without an answer the server's close waits 5 s for one while the
	// slot stays taken.
	for {
		typ, data, err := ws.Read(ctx)
		if err != nil {
			if exit == "" {
				t.Fatalf("read the terminal: %v", err)
			}
			break
		}
		switch {
		case typ == websocket.MessageText && strings.Contains(string(data), `"t":"ready"`):
			ready = true
			if status, _, body := e.open(t, hc, csrf, "db1"); status != http.StatusForbidden || !strings.Contains(body, "open already") {
				t.Errorf("a second terminal with max_sessions 1: %d", status)
			}
		case typ == websocket.MessageText && strings.Contains(string(data), `"t":"exit"`):
			exit, idle = string(data), time.Since(dialed)
		}
	}
	t.Logf("closed after %v without input: %s", idle.Round(time.Millisecond), exit)
	if !ready || idle < 2*time.Second || idle > 4*time.Second || !strings.Contains(exit, "no input") {
		t.Errorf("the idle terminal ended after %v with %s; want about 2s and the reason", idle, exit)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if status, _, _ := e.open(t, hc, csrf, "db1"); status == http.StatusOK {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("after the idle close a new terminal is still refused: %d", status)
		}
	}
}
