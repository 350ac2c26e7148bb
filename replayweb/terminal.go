package replayweb

import (
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/store"
)

// The terminal in the browser.
//
// A person whose web account maps to a bastion user (role user: the
// account's name is the bastion user's) opens a shell on a target from
// the "Terminal" page. The site does not reach targets itself: it asks
// TerminalOptions.Open for an in-process SSH connection to the bastion's
// own proxy and logs in there as that user with a key made for this one
// connection (terminal_socket.go). The proxy then decides, dials,
// authenticates, records and audits it as any ssh login, marked via web.
//
// In order:
//  1. GET /terminal lists what the person's grants allow (the list "ssh
//     USER@bastion" prints), with a Connect form for each grant that has
//     web_terminal.
//  2. POST /terminal/open (the login's CSRF token) checks the account, a
//     second factor or single sign-on within FreshLogin, the grant and the
//     number of open terminals, then renders the terminal page with a
//     one-time ticket (ticketTTL) bound to this login, target and remote
//     user.
//  3. GET /terminal/socket?ticket=T, from the site's own origin, with the
//     same login, takes the ticket and becomes the WebSocket that carries
//     the terminal (terminal_socket.go).

// TerminalOptions turn on the terminal in the browser. cmd/jumpcast fills
// them from the proxy and web.terminal.
type TerminalOptions struct {
	// Grants returns what bastion user may reach, as "ssh USER@bastion"
	// lists it (proxy.Server.WebGrants); nil for an unknown user.
	// Required.
	Grants func(user string) []TerminalGrant
	// Open makes an in-process connection to the bastion's SSH server
	// that logs in only with key, as user (account is the web account, for
	// the record), from remote (proxy.Server.OpenWebConn). Required.
	Open func(user, account string, remote net.Addr, key gossh.PublicKey) (net.Conn, error)
	// HostKeys are the bastion's host keys; the connection must present
	// one of them. Required.
	HostKeys []gossh.PublicKey
	// FreshLogin is how recent the sign-in with a second factor (or
	// single sign-on) must be. Zero means 15 minutes.
	FreshLogin time.Duration
	// MaxSessions bounds the terminals one person has open. Zero means 3.
	MaxSessions int
	// IdleTimeout closes a terminal without keystrokes or resizes for
	// that long. Zero means 15 minutes.
	IdleTimeout time.Duration
}

// TerminalGrant is one line of the Connect page: a target alias (at
// Address) or raw hosts matching Hosts, as one of RemoteUsers (globs);
// Web says whether the browser may open it.
type TerminalGrant struct {
	Target      string
	Address     string
	Hosts       []string
	RemoteUsers []string
	Web         bool
}

// ticketTTL is how long a terminal page's ticket may wait for its
// WebSocket: the page opens it as soon as it has loaded.
const ticketTTL = 30 * time.Second

// terminalTicket is what a ticket stands for.
type terminalTicket struct {
	loginID    string
	account    string
	target     string
	remoteUser string
}

// terminals counts the open terminals per account.
type terminals struct {
	mu   sync.Mutex // guards open
	open map[string]int
}

// acquire counts one more terminal of account; false when it has max.
func (t *terminals) acquire(account string, max int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open[account] >= max {
		return false
	}
	if t.open == nil {
		t.open = map[string]int{}
	}
	t.open[account]++
	return true
}

func (t *terminals) release(account string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open[account]--; t.open[account] <= 0 {
		delete(t.open, account)
	}
}

func (t *terminals) count(account string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open[account]
}

// terminalDefaults fills the zero fields of o.
func terminalDefaults(o *TerminalOptions) {
	if o.FreshLogin <= 0 {
		o.FreshLogin = 15 * time.Minute
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 3
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 15 * time.Minute
	}
}

// terminalRoutes registers the terminal's routes on the login-guarded,
// CSRF-checked pages group; none without Options.Terminal.
func (s *Server) terminalRoutes(pages *echo.Group) {
	if s.o.Terminal == nil {
		return
	}
	pages.GET("/terminal", s.connectPage)
	pages.POST("/terminal/open", s.terminalOpen)
	pages.GET("/terminal/socket", s.terminalSocket)
}

// offersTerminal tells whether the menu shows "Terminal" to p.
func (s *Server) offersTerminal(p *principal) bool {
	return s.o.Terminal != nil && p != nil && p.Role == store.RoleUser
}

// terminalRefusal is why a terminal is refused: the audit reason and the
// person's line.
type terminalRefusal struct {
	reason audit.Reason
	msg    string
}

// mayOpen checks that p may open a terminal to target as remoteUser now:
// an account that is a bastion user's, a recent strong sign-in, a grant
// with web_terminal, and a free slot. Nil means yes.
func (s *Server) mayOpen(p *principal, target, remoteUser string) *terminalRefusal {
	o := s.o.Terminal
	if p == nil || p.login == nil || p.Role != store.RoleUser {
		return &terminalRefusal{audit.ReasonNoBastionUser, "Only accounts of bastion users (role user) open terminals."}
	}
	grants := o.Grants(p.Name)
	if grants == nil {
		return &terminalRefusal{audit.ReasonNoBastionUser, "Your account " + p.Name + " is not a bastion user; ask an operator."}
	}
	if !p.login.strong || s.now().Sub(p.login.created) > o.FreshLogin {
		return &terminalRefusal{audit.ReasonLoginNotFresh, "Opening a terminal needs a sign-in with your second factor (or single sign-on) within the last " +
			fmtDuration(o.FreshLogin) + ". Log out and sign in again."}
	}
	if !webGranted(grants, target, remoteUser) {
		return &terminalRefusal{audit.ReasonWebTerminalNotGranted, "You may not open " + remoteUser + "@" + target + " in the browser."}
	}
	if s.terms.count(p.Name) >= o.MaxSessions {
		return &terminalRefusal{audit.ReasonTooManyTerminals, "You have " + strconv.Itoa(o.MaxSessions) + " terminals open already; close one first."}
	}
	return nil
}

// webGranted tells whether a grant with web_terminal covers target (an
// alias, or a raw host) and remoteUser. The proxy decides again.
func webGranted(grants []TerminalGrant, target, remoteUser string) bool {
	for _, g := range grants {
		if !g.Web || !globMatch(g.RemoteUsers, remoteUser) {
			continue
		}
		if g.Target != "" && g.Target == target || g.Target == "" && globMatch(g.Hosts, target) {
			return true
		}
	}
	return false
}

func globMatch(globs []string, name string) bool {
	for _, g := range globs {
		if ok, err := path.Match(g, name); err == nil && ok {
			return true
		}
	}
	return false
}

// connectBody is the Connect page's data.
type connectBody struct {
	Grants []TerminalGrant
	Error  string
}

// connectPage is GET /terminal.
func (s *Server) connectPage(c echo.Context) error {
	return s.renderConnect(c, http.StatusOK, "")
}

func (s *Server) renderConnect(c echo.Context, status int, msg string) error {
	p := principalOf(c)
	var grants []TerminalGrant
	if p.Role == store.RoleUser {
		grants = s.o.Terminal.Grants(p.Name)
	}
	return s.render(c, status, "connect", pageData{Title: "Terminal", Nav: "terminal", Body: connectBody{Grants: grants, Error: msg}})
}

// terminalBody is the terminal page's data.
type terminalBody struct {
	Target, RemoteUser, Ticket string
}

// terminalOpen is POST /terminal/open: target and user from a Connect
// form (or the terminal page's Reconnect button).
func (s *Server) terminalOpen(c echo.Context) error {
	p := principalOf(c)
	target, remoteUser := strings.TrimSpace(c.FormValue("target")), strings.TrimSpace(c.FormValue("user"))
	if target == "" || remoteUser == "" || len(target) > 255 || len(remoteUser) > 64 ||
		strings.ContainsAny(target+remoteUser, "@+ \t\r\n\x00") {
		return s.renderConnect(c, http.StatusBadRequest, "Name a target and a remote user.")
	}
	if r := s.mayOpen(p, target, remoteUser); r != nil {
		_ = s.audit(c, audit.TerminalDenied(audit.Who{User: p.Name, Target: target, RemoteUser: remoteUser}, r.reason, r.msg))
		s.log.Info("web terminal refused", "user", p.Name, "target", target, "remote_user", remoteUser,
			"reason", string(r.reason), "remote_addr", c.RealIP())
		return s.renderConnect(c, http.StatusForbidden, r.msg)
	}
	ticket := randomToken()
	s.tickets.put(ticket, terminalTicket{loginID: p.login.id, account: p.Name, target: target, remoteUser: remoteUser})
	return s.render(c, http.StatusOK, "terminal", pageData{Title: remoteUser + "@" + target, Nav: "terminal",
		Nonce: randomToken(), Body: terminalBody{Target: target, RemoteUser: remoteUser, Ticket: ticket}})
}
