package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/coder/websocket"
	"github.com/pquerna/otp/totp"
	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/browsertest"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	"github.com/jumpcast/jumpcast/store"
)

// termE2E is a `jumpcast serve` whose bastion users alice and dave may
// open db1 from the browser (web_terminal) and db2 only over ssh. The web
// accounts alice (with an authenticator app) and dave (without) are
// theirs.
type termE2E struct {
	e2e
	site string
}

// termTargetPassword is the password of pw1, a password-only target.
const termTargetPassword = "pw1 s3cret-in-the-page"

const (
	termPassword = "terminal e2e passphrase"
	termSecret   = "JBSWY3DPEHPK3PXP" // alice's authenticator key
	termRecovery = "abcde-fghij"      // alice's recovery code (an authenticator code is good once per 30 s)
)

// recoveryHash is how the site stores a recovery code (replayweb's
// recoveryHash, for the code as written above).
func recoveryHash(code string) string {
	sum := sha256.Sum256([]byte("jumpcast-recovery\x00" + strings.ReplaceAll(code, "-", "")))
	return hex.EncodeToString(sum[:])
}

func startTerminalE2E(t *testing.T) *termE2E {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	sshtest.RequireBinary(t, "/usr/sbin/sshd", browsertest.Chromium)
	e := &termE2E{e2e: e2e{key: sshtest.NewKeyPair(t), dataDir: filepath.Join(t.TempDir(), "data")}}
	e.sshd = sshtest.StartSSHD(t, sshtest.SSHDOptions{AuthorizedKeys: []gossh.PublicKey{e.key.Public}})
	pw := sshtest.NewTarget(t, sshtest.TargetOptions{Password: termTargetPassword, PasswordOnly: true})
	cfg := fmt.Sprintf(`data_dir: %q
ssh:
  listen: "127.0.0.1:0"
  shutdown_grace: 2s
web:
  listen: "127.0.0.1:0"
  terminal:
    idle_timeout: 1m
recording:
  min_free_space: 1MiB
upstream:
  identity_files: [%q]
  dial_timeout: 3s
users:
  alice:
    keys: [%q]
    allow:
      - targets: ["db1"]
        as: [%q]
        web_terminal: true
      - targets: ["db2"]
        as: [%q]
      - targets: ["pw1"]
        as: ["web"]
        web_terminal: true
  dave:
    allow:
      - targets: ["db1"]
        as: [%q]
        web_terminal: true
targets:
  db1:
    address: %q
  db2:
    address: %q
  pw1:
    address: %q
`, e.dataDir, e.key.PrivatePath, strings.TrimSpace(e.key.AuthorizedLine), e.sshd.User(), e.sshd.User(), e.sshd.User(), e.sshd.Addr, e.sshd.Addr, pw.Addr)
	e.cfgPath = filepath.Join(t.TempDir(), "jumpcast.yaml")
	if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "dave"} {
		if _, errOut, code := runJumpcast(t, termPassword+"\n", "auditor", "add", name, "--role", "user", "-c", e.cfgPath); code != 0 {
			t.Fatalf("auditor add %s: exit %d: %s", name, code, errOut)
		}
	}
	st, err := store.Open(filepath.Join(e.dataDir, "jumpcast.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = st.PutSecondFactor(context.Background(), store.SecondFactor{Account: "alice", TOTPSecret: termSecret, RecoveryHashes: []string{recoveryHash(termRecovery)}})
	_ = st.Close()
	if err != nil {
		t.Fatal(err)
	}
	e.srv = startServer(t, e.cfgPath)
	e.site = "http://" + e.srv.WebAddr
	return e
}

// logInWithCode signs in as alice with her password and code, or, when
// code is "", her authenticator's current code.
func (e *termE2E) logInWithCode(t *testing.T, b *browsertest.Browser, code string) {
	t.Helper()
	b.LogIn(t, e.site+"/login", "alice", termPassword)
	if code == "" {
		var err error
		if code, err = totp.GenerateCode(termSecret, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	b.Do(t, "type the code", chromedp.WaitVisible(chromedp.ID("code")), chromedp.SendKeys(chromedp.ID("code"), code))
	b.Load(t, "submit the code", chromedp.Submit(chromedp.ID("code")))
}

// screenJS is what the terminal page's xterm.js shows, row by row.
const screenJS = `Array.from(document.querySelectorAll("#term .xterm-rows > div")).map(function (d) { return d.textContent.replace(/\u00a0/g, " ").replace(/\s+$/, ""); }).join("\n")`

// waitScreen waits until the terminal shows every string of want.
func waitScreen(t *testing.T, b *browsertest.Browser, want ...string) string {
	t.Helper()
	var conds []string
	for _, w := range want {
		conds = append(conds, fmt.Sprintf("s.includes(%q)", w))
	}
	js := fmt.Sprintf(`(function () { var s = %s; return %s; })()`, screenJS, strings.Join(conds, " && "))
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](js, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the terminal never showed %q: %v; it shows:\n%s\npage problems: %s", want, err, b.Eval(t, screenJS), b.ProblemsSoFar())
	}
	return b.Eval(t, screenJS)
}

// termSize asks the target for its terminal size (rows x cols) until it
// differs from not.
func termSize(t *testing.T, b *browsertest.Browser, not string) string {
	t.Helper()
	re := regexp.MustCompile(`size-(\d+x\d+)-end`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		typeLine(t, b, "clear; echo size-$(stty size | tr ' ' x)-end")
		time.Sleep(200 * time.Millisecond)
		if m := re.FindAllStringSubmatch(b.Eval(t, screenJS), -1); m != nil && m[len(m)-1][1] != not {
			return m[len(m)-1][1]
		}
	}
	t.Fatalf("stty size never differed from %q; the terminal shows:\n%s", not, b.Eval(t, screenJS))
	return ""
}

// waitConnected waits until the terminal page's shell has started.
func waitConnected(t *testing.T, b *browsertest.Browser) {
	t.Helper()
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](`document.getElementById("term-state").textContent === "connected"`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the terminal never connected: %v; state %q; page problems: %s", err,
			b.Eval(t, `document.getElementById("term-state").textContent + " " + (document.getElementById("term-ended-text") || {}).textContent`), b.ProblemsSoFar())
	}
}

// typeLine types line and Enter into the terminal: the text as the
// browser inserts typed text (one input event; synthetic key events per
// character would reach xterm.js twice), Enter as a key.
func typeLine(t *testing.T, b *browsertest.Browser, line string) {
	t.Helper()
	b.Do(t, "focus the terminal", chromedp.Focus(chromedp.CSS("#term .xterm-helper-textarea")))
	if _, err := chromedp.Call(b.Ctx(), input.InsertText, input.InsertTextParams{Text: line}); err != nil {
		t.Fatalf("type %q: %v", line, err)
	}
	b.Do(t, "press Enter", chromedp.KeyEvent(kb.Enter))
}

// frames collects the binary WebSocket messages the page received.
type frames struct {
	mu  sync.Mutex // guards buf
	buf []byte
}

func (f *frames) listen(t *testing.T, b *browsertest.Browser) {
	if err := chromedp.Listen(b.Ctx(), func(ev any) {
		if fr, ok := ev.(*network.EventWebSocketFrameReceived); ok && fr.Response != nil && fr.Response.Opcode == 2 {
			f.mu.Lock()
			f.buf = append(f.buf, fr.Response.PayloadData...)
			f.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
}

func (f *frames) take() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.buf
	f.buf = nil
	return b
}

// TestBrowserTerminal: alice, signed in with her second factor, opens a
// shell on a real sshd from the browser through `jumpcast serve`, runs
// commands with UTF-8 output, resizes the window, runs a full-screen
// program and exits with a status; the recording holds exactly the bytes
// the page received, plays back in the player, and its audit events say
// via web. Then the refusals: db2 (no web_terminal), another origin, a
// reused ticket, dave without a second factor; and a lock closes an open
// terminal within a second.
func TestBrowserTerminal(t *testing.T) {
	e := startTerminalE2E(t)
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

// asJSONText is b as encoding/json keeps a string: each byte that is not
// part of valid UTF-8 becomes U+FFFD.
func asJSONText(b []byte) string {
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.Write(b[:n])
		}
		b = b[n:]
	}
	return sb.String()
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

// client is a Go HTTP client holding the browser's cookies, and the
// login's CSRF token.
func (e *termE2E) client(t *testing.T, b *browsertest.Browser) (*http.Client, string) {
	t.Helper()
	res, err := chromedp.Call(b.Ctx(), network.GetCookies, network.GetCookiesParams{URLs: []string{e.site + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(e.site + "/")
	var cs []*http.Cookie
	for _, c := range res.Cookies {
		cs = append(cs, &http.Cookie{Name: c.Name, Value: c.Value, Path: "/"})
	}
	jar.SetCookies(u, cs)
	hc := &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrf := b.Eval(t, `document.querySelector("input[name=_csrf]").value`)
	return hc, csrf
}

// open posts the Connect form for target as the sshd's user and returns
// the status and the page's ticket.
func (e *termE2E) open(t *testing.T, hc *http.Client, csrf, target string) (int, string, string) {
	t.Helper()
	res, err := hc.PostForm(e.site+"/terminal/open", url.Values{"_csrf": {csrf}, "target": {target}, "user": {e.sshd.User()}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	m := regexp.MustCompile(`data-ticket="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		return res.StatusCode, "", string(body)
	}
	return res.StatusCode, string(m[1]), string(body)
}

// dialTerm opens the terminal's WebSocket from Go with origin.
func (e *termE2E) dialTerm(hc *http.Client, ticket, origin string) (*websocket.Conn, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, res, err := websocket.Dial(ctx, "ws://"+e.srv.WebAddr+"/terminal/socket?ticket="+url.QueryEscape(ticket),
		&websocket.DialOptions{HTTPClient: hc, HTTPHeader: http.Header{"Origin": {origin}}})
	status := 0
	if res != nil {
		status = res.StatusCode
	}
	return ws, status, err
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

// openTerminal opens db1 from the Connect page and waits for its shell.
func (e *termE2E) openTerminal(t *testing.T, b *browsertest.Browser) {
	t.Helper()
	b.Load(t, "open the Terminal page", chromedp.Navigate(e.site+"/terminal"))
	b.Load(t, "connect to db1", chromedp.Click(chromedp.CSS(`#grants form.connect button`)))
	waitConnected(t, b)
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
