package replayweb

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/store"
)

// The terminal's WebSocket. Binary messages carry the terminal: the
// browser sends what is typed or pasted, the site sends what the target's
// session wrote (stdout and stderr, as received: the bytes the recording
// holds). Text messages are JSON control messages:
//
//	browser → site  {"t":"resize","cols":C,"rows":R}
//	                {"t":"answers","answers":["..."]}   to a prompt
//	site → browser  {"t":"prompt","instruction":"...","prompts":[{"text":"Password: ","echo":false}]}
//	                {"t":"ready"}                        the shell started
//	                {"t":"exit","status":N,"signal":"","message":"..."}  last message
//
// A target's prompt (its password) reaches the browser as the login's
// keyboard-interactive step (proxy's login_password.go); the answer goes
// to the SSH client's callback and nowhere else: it is never logged,
// recorded or stored.

const (
	// maxTerminalMessage bounds one message from the browser (a paste).
	maxTerminalMessage = 1 << 20
	// terminalWatch is how often an open terminal checks that its web
	// login still stands and it is not idle: a logout or an account
	// change closes it within about that long.
	terminalWatch = 250 * time.Millisecond
	// maxTermSize bounds the columns and rows the browser may ask for.
	maxTermSize = 1000
)

// ctlMsg is a control message, either way.
type ctlMsg struct {
	T           string       `json:"t"`
	Cols        int          `json:"cols,omitempty"`
	Rows        int          `json:"rows,omitempty"`
	Answers     []string     `json:"answers,omitempty"`
	Instruction string       `json:"instruction,omitempty"`
	Prompts     []promptLine `json:"prompts,omitempty"`
	Status      *int         `json:"status,omitempty"`
	Signal      string       `json:"signal,omitempty"`
	Message     string       `json:"message,omitempty"`
}

type promptLine struct {
	Text string `json:"text"`
	Echo bool   `json:"echo"`
}

// Why a terminal closed, when the site closed it.
var (
	errTerminalIdle  = errors.New("closed after no input for the idle timeout")
	errLoginEnded    = errors.New("your web login ended")
	errBrowserClosed = errors.New("the browser closed the terminal")
)

// expectedOrigin is the origin the terminal page was served from: the
// public URL's when set, else this request's scheme and host.
func (s *Server) expectedOrigin(r *http.Request) string {
	if s.o.PublicURL != "" {
		if u, err := url.Parse(s.o.PublicURL); err == nil {
			return u.Scheme + "://" + u.Host
		}
	}
	scheme := "http"
	if r.TLS != nil || s.o.Secure {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// terminalSocket is GET /terminal/socket?ticket=T&cols=C&rows=R.
func (s *Server) terminalSocket(c echo.Context) error {
	p := principalOf(c)
	r := c.Request()
	who := audit.Who{User: p.Name}
	refuse := func(why string) error {
		_ = s.audit(c, audit.TerminalDenied(who, audit.ReasonTicketInvalid, why))
		s.log.Warn("web terminal socket refused", "user", p.Name, "why", why, "remote_addr", c.RealIP())
		return echo.NewHTTPError(http.StatusForbidden, "this terminal cannot be opened: "+why+"; open it again from the Terminal page")
	}
	origin := r.Header.Get("Origin")
	if origin != s.expectedOrigin(r) {
		return refuse("it was not opened by this site's page")
	}
	t, ok := s.tickets.take(c.QueryParam("ticket"))
	if !ok || p.login == nil || t.loginID != p.login.id {
		return refuse("its ticket is unknown, used or expired")
	}
	who.Target, who.RemoteUser = t.target, t.remoteUser
	cols, rows := termSize(c.QueryParam("cols"), 80), termSize(c.QueryParam("rows"), 24)
	if !s.terms.acquire(t.account, s.o.Terminal.MaxSessions) {
		return refuse("too many terminals open")
	}
	defer s.terms.release(t.account)
	var patterns []string
	if u, err := url.Parse(origin); err == nil {
		patterns = []string{u.Host}
	}
	ws, err := websocket.Accept(c.Response(), r, &websocket.AcceptOptions{OriginPatterns: patterns})
	if err != nil {
		return nil // Accept answered the request
	}
	ws.SetReadLimit(maxTerminalMessage)
	term := &webTerminal{s: s, ws: ws, login: p.login, t: t, cols: cols, rows: rows,
		remote: remoteAddrOf(c), answers: make(chan []string, 1), resize: make(chan [2]int, 1), input: make(chan []byte, 64)}
	term.run()
	return nil
}

// termSize parses a terminal dimension, def when absent or out of range.
func termSize(v string, def int) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxTermSize {
		return def
	}
	return n
}

// remoteAddrOf is the browser's address (c.RealIP, with the TCP port when
// it is the peer's).
func remoteAddrOf(c echo.Context) net.Addr {
	ip := net.ParseIP(c.RealIP())
	if ip == nil {
		ip = net.IPv4zero
	}
	a := &net.TCPAddr{IP: ip}
	if host, port, err := net.SplitHostPort(c.Request().RemoteAddr); err == nil && net.ParseIP(host).Equal(ip) {
		a.Port, _ = strconv.Atoi(port)
	}
	return a
}

// webTerminal is one open terminal: a WebSocket and the SSH connection
// behind it. Its life, in order (run): the reader goroutine takes the
// browser's messages; the watch goroutine ends it when the web login
// ends or it is idle; the SSH client logs in (relaying prompts); the
// session runs with its output copied to the browser; the exit message
// is sent and the WebSocket closed. The first end cancels ctx with its
// cause, which closes the SSH connection.
type webTerminal struct {
	s          *Server
	ws         *websocket.Conn
	login      *webLogin
	t          terminalTicket
	cols, rows int
	remote     net.Addr

	answers chan []string // answers to the pending prompt; capacity 1
	resize  chan [2]int   // the latest size asked for; capacity 1
	input   chan []byte   // typed bytes, in order

	lastInput chan struct{} // ticked by the reader on every message (for the idle timer); capacity 1
}

func (w *webTerminal) run() {
	s := w.s
	// ctx is the session's: its end closes the SSH connection. The
	// WebSocket is read and written without it (a cancelled context
	// closes a coder/websocket connection at once, and the exit message
	// must still go out); it is closed last.
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	w.lastInput = make(chan struct{}, 1)
	defer func() { _ = w.ws.CloseNow() }()
	go w.read(ctx, cancel)  // owner: run; ends when the WebSocket closes (deferred above)
	go w.watch(ctx, cancel) // owner: run; ends with ctx

	status, signal, err := w.session(ctx, cancel)
	msg := ""
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, errBrowserClosed) {
		msg = cause.Error()
	} else if err != nil {
		msg = err.Error()
	}
	s.log.Info("web terminal closed", "user", w.t.account, "target", w.t.target, "remote_user", w.t.remoteUser,
		"remote_addr", w.remote.String(), "exit_status", status, "why", msg)
	end := ctlMsg{T: "exit", Signal: signal, Message: msg}
	if status >= 0 {
		end.Status = &status
	}
	_ = w.send(end)
	_ = w.ws.Close(websocket.StatusNormalClosure, "")
}

// session logs in and runs the shell; it returns the exit status (-1
// when there was none), the signal, and why it failed.
func (w *webTerminal) session(ctx context.Context, cancel context.CancelCauseFunc) (int, string, error) {
	o := w.s.o.Terminal
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return -1, "", err
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return -1, "", err
	}
	conn, err := o.Open(w.t.account, w.t.account, w.remote, signer.PublicKey())
	if err != nil {
		return -1, "", fmt.Errorf("the bastion refused the connection: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	defer func() { _ = conn.Close() }()
	conf := &gossh.ClientConfig{
		User:            w.t.remoteUser + "@" + w.t.target,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(signer), gossh.KeyboardInteractive(w.prompt(ctx))},
		HostKeyCallback: w.bastionKey,
		Timeout:         0, // an in-process connection; a password prompt may wait for the person
	}
	sc, chans, reqs, err := gossh.NewClientConn(conn, "bastion", conf)
	if err != nil {
		return -1, "", loginFailure(err)
	}
	client := gossh.NewClient(sc, chans, reqs)
	defer func() { _ = client.Close() }()
	sess, err := client.NewSession()
	if err != nil {
		return -1, "", err
	}
	modes := gossh.TerminalModes{gossh.ECHO: 1, gossh.TTY_OP_ISPEED: 38400, gossh.TTY_OP_OSPEED: 38400}
	if err := sess.RequestPty("xterm-256color", w.rows, w.cols, modes); err != nil {
		return -1, "", err
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		return -1, "", err
	}
	out := &wsWriter{ws: w.ws}
	sess.Stdout, sess.Stderr = out, out
	if err := sess.Shell(); err != nil {
		return -1, "", err
	}
	_ = w.send(ctlMsg{T: "ready"})
	go func() { // owner: session; ends with ctx (the session's end cancels it)
		for {
			select {
			case b := <-w.input:
				if _, err := stdin.Write(b); err != nil {
					return
				}
			case sz := <-w.resize:
				_ = sess.WindowChange(sz[1], sz[0])
			case <-ctx.Done():
				return
			}
		}
	}()
	err = sess.Wait()
	var exit *gossh.ExitError
	switch {
	case err == nil:
		return 0, "", nil
	case errors.As(err, &exit):
		return exit.ExitStatus(), exit.Signal(), nil
	}
	return -1, "", errors.New("the session ended without an exit status")
}

// loginFailure is the person's line for a login to the bastion that
// failed: the proxy's banner line when it sent one.
func loginFailure(err error) error {
	var be *gossh.BannerError
	if errors.As(err, &be) {
		return errors.New(string(bytes.TrimSpace([]byte(be.Message))))
	}
	return errors.New("the login to the target failed")
}

// bastionKey accepts only the bastion's own host keys.
func (w *webTerminal) bastionKey(_ string, _ net.Addr, key gossh.PublicKey) error {
	for _, k := range w.s.o.Terminal.HostKeys {
		if bytes.Equal(k.Marshal(), key.Marshal()) {
			return nil
		}
	}
	return errors.New("not the bastion's host key")
}

// prompt relays keyboard-interactive questions (a target's password
// prompt) to the browser and returns its answers.
func (w *webTerminal) prompt(ctx context.Context) gossh.KeyboardInteractiveChallenge {
	return func(_, instruction string, questions []string, echos []bool) ([]string, error) {
		if len(questions) == 0 {
			return nil, nil
		}
		m := ctlMsg{T: "prompt", Instruction: instruction}
		for i, q := range questions {
			m.Prompts = append(m.Prompts, promptLine{Text: q, Echo: i < len(echos) && echos[i]})
		}
		if err := w.send(m); err != nil {
			return nil, err
		}
		select {
		case a := <-w.answers:
			if len(a) != len(questions) {
				return nil, errors.New("wrong number of answers")
			}
			return a, nil
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// read takes the browser's messages until the WebSocket ends.
func (w *webTerminal) read(ctx context.Context, cancel context.CancelCauseFunc) {
	for {
		typ, data, err := w.ws.Read(context.Background())
		if err != nil {
			cancel(errBrowserClosed)
			return
		}
		select {
		case w.lastInput <- struct{}{}:
		default:
		}
		if typ == websocket.MessageBinary {
			select {
			case w.input <- data:
			case <-ctx.Done():
				return
			}
			continue
		}
		var m ctlMsg
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		switch m.T {
		case "resize":
			if m.Cols < 1 || m.Rows < 1 || m.Cols > maxTermSize || m.Rows > maxTermSize {
				continue
			}
			select { // keep only the latest size
			case <-w.resize:
			default:
			}
			w.resize <- [2]int{m.Cols, m.Rows}
		case "answers":
			select {
			case w.answers <- m.Answers:
			default: // no prompt pending
			}
		}
	}
}

// watch ends the terminal when its web login ends (logout, expiry, its
// account deleted or changed) or it has been idle for the idle timeout.
func (w *webTerminal) watch(ctx context.Context, cancel context.CancelCauseFunc) {
	s := w.s
	tick := time.NewTicker(terminalWatch)
	defer tick.Stop()
	last := s.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.lastInput:
			last = s.now()
		case <-tick.C:
			if !s.loginStands(ctx, w.login) {
				cancel(errLoginEnded)
				return
			}
			if s.now().Sub(last) > s.o.Terminal.IdleTimeout {
				cancel(errTerminalIdle)
				return
			}
		}
	}
}

// loginStands tells whether l is still a live login whose account (for
// local accounts) has the role and credentials it had at sign-in, as
// loginPrincipal checks on every request.
func (s *Server) loginStands(ctx context.Context, l *webLogin) bool {
	if s.logins.get(l.id) == nil {
		return false
	}
	if l.sso {
		return true
	}
	a, err := s.store.GetAccount(ctx, l.user)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	if err != nil {
		return true // the index did not answer: the next tick asks again
	}
	return a.Role == l.role && a.CredentialVersion == l.version
}

// send writes one control message.
func (w *webTerminal) send(m ctlMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return w.ws.Write(ctx, websocket.MessageText, b)
}

// wsWriteTimeout bounds one write to the browser: a browser that stops
// reading for that long loses its terminal.
const wsWriteTimeout = 30 * time.Second

// wsWriter sends each write as one binary message.
type wsWriter struct {
	ws *websocket.Conn
}

func (w *wsWriter) Write(p []byte) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wsWriteTimeout)
	defer cancel()
	if err := w.ws.Write(ctx, websocket.MessageBinary, p); err != nil {
		return 0, err
	}
	return len(p), nil
}
