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

	"github.com/jumpcast/jumpcast/internal/browsertest"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	"github.com/jumpcast/jumpcast/store"
)

// termE2E is a `jumpcast serve` whose bastion users alice and dave may
// open db1 and the password-only pw1 from the browser (web_terminal) and
// db2 only over ssh. The web
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

// startTerminalE2E starts it; limits are web.terminal's keys, indented
// for that block.
func startTerminalE2E(t *testing.T, limits string) *termE2E {
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
    %s
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
`, e.dataDir, limits, e.key.PrivatePath, strings.TrimSpace(e.key.AuthorizedLine), e.sshd.User(), e.sshd.User(), e.sshd.User(), e.sshd.Addr, e.sshd.Addr, pw.Addr)
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

// openTerminal opens db1 from the Connect page and waits for its shell.
func (e *termE2E) openTerminal(t *testing.T, b *browsertest.Browser) {
	t.Helper()
	b.Load(t, "open the Terminal page", chromedp.Navigate(e.site+"/terminal"))
	b.Load(t, "connect to db1", chromedp.Click(chromedp.CSS(`#grants form.connect button`)))
	waitConnected(t, b)
}
