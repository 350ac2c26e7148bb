package replayweb

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/labstack/echo/v4"
)

//go:embed assets templates
var embedded embed.FS

// Options configure the web site. Store and Recordings are required.
type Options struct {
	// Store is the index: recordings, accounts, tokens, audit events.
	Store Store
	// Recordings opens cast files by their path relative to the recordings
	// folder.
	Recordings CastOpener
	// Live is the live fan-out of active sessions; nil means no live view
	// (active recordings are then played from the file as written so far).
	Live LiveSource
	// Logger receives request errors, logins and audit failures; nil means
	// slog.Default().
	Logger *slog.Logger
	// TrustedProxies are CIDRs (or single IPs) of reverse proxies whose
	// X-Forwarded-For is believed. Empty means the client address is the TCP
	// peer and X-Forwarded-For is ignored. The login rate limit and audit
	// events key on this address.
	TrustedProxies []string
	// LoginTTL is how long a login lasts; zero means 12 hours.
	LoginTTL time.Duration
	// Secure marks cookies Secure (with the __Host- prefix) and sends HSTS;
	// set it when the site is served over TLS.
	Secure bool
	// SSHHint is shown on the empty recordings list, e.g.
	// "ssh -p 2222 user@target@bastion.example"; empty shows no command.
	SSHHint string
	// Metrics, when set, is served at GET /metrics to a logged-in auditor or
	// admin, or an API token acting for one (not to user accounts).
	Metrics http.Handler
	// Health is the liveness check behind GET /healthz, open to anyone; its
	// error text is the answer's reason, so it must be short and reveal
	// nothing. Nil means /healthz always answers "ok".
	Health func(ctx context.Context) error
	// Ready is the readiness check behind GET /readyz, open to anyone, with
	// the same rules as Health. Nil leaves /readyz out.
	Ready func(ctx context.Context) error
	// Now is the clock for web logins, rate limits and audit times; nil means
	// time.Now.
	Now func() time.Time
	// EndSession ends the running session recording as id on behalf of by
	// ("auditor NAME"), telling its admin why (proxy.Server.EndSession).
	// Nil: the site offers no way to end sessions.
	EndSession func(id, by, why string) error
	// EndConnection ends the whole admin connection that the running
	// session id belongs to, for by and why as EndSession
	// (proxy.Server.EndConnection). Nil: the page offers only to end the
	// session.
	EndConnection func(id, by, why string) error
	// Locks makes, lists and lifts access locks, for the admin page. Nil:
	// the page has no locks panel.
	Locks Locks
	// Node is this node's id (store.node_id). With Remote set, an active
	// recording whose Meta.Node is another node is watched through
	// Remote. EndSession and EndConnection route such sessions themselves.
	Node string
	// Remote opens the live stream of a session another node records
	// (cmd/jumpcast's cluster client). Nil: only this node's sessions are
	// watched live.
	Remote RemoteLive
	// OIDC, when set, adds single sign-on through an OpenID provider
	// (oidc.go). Nil: local accounts only.
	OIDC *OIDCOptions
	// DisablePasswordLogin refuses sign-in with a local account's
	// password, but for the accounts named in BreakGlass; the login page
	// then shows only the single sign-on button (and the password form at
	// /login?local=1).
	DisablePasswordLogin bool
	BreakGlass           []string
	// PublicURL is the site's address as browsers reach it
	// ("https://jumpcast.example.com"): it names the relying party for
	// passkeys (its host is the RP ID, its origin the only one accepted).
	// Empty: no passkeys.
	PublicURL string
	// RequireSecondFactor makes every local account use a second factor
	// (TOTP or a passkey): one without is sent to enrol at its next
	// sign-in and reaches nothing else until it has. Single sign-on logins
	// are the provider's to protect.
	RequireSecondFactor bool
	// Terminal, when set, adds the terminal in the browser (terminal.go)
	// for accounts of role user. Nil: no terminal.
	Terminal *TerminalOptions
}

// Server is the web site. It holds web logins in memory; it starts no
// goroutine of its own (the live view's goroutines belong to their request).
type Server struct {
	store Store
	casts CastOpener
	live  LiveSource
	log   *slog.Logger
	now   func() time.Time
	o     Options

	e            *echo.Echo
	logins       *webLogins
	limit        *limiter
	loginCSRF    loginCSRF
	pages        map[string]*pageTemplate
	played       playedSet    // which login played which recording (chunks.go)
	readers      readerCache  // open Readers of finished recordings (readers.go)
	previewCache previewCache // the list's previews of finished recordings (preview.go)
	// dummyHash is checked against when a login names no account, so that
	// a wrong name costs as much time as a wrong password.
	dummyHash string

	// Sign-in beyond the password.
	sso        *ssoClient                     // nil without Options.OIDC (oidc.go)
	pending    pendingLogins                  // passwords waiting for their second factor (secondfactor.go)
	enrolling  *onceMap[string]               // TOTP secrets offered, not yet confirmed (account.go)
	freshCodes *onceMap[[]string]             // recovery codes to show once (account.go)
	passkeys   *webauthn.WebAuthn             // nil without Options.PublicURL (passkey.go)
	ceremony   *onceMap[webauthn.SessionData] // passkey challenges in flight

	// The terminal in the browser (terminal.go).
	tickets *onceMap[terminalTicket] // terminal pages' WebSocket tickets
	terms   terminals                // open terminals per account
}

// New builds the site. It fails when a required option is missing or a
// trusted proxy is not a CIDR or IP.
func New(o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("replayweb: Options.Store is required")
	}
	if o.Recordings == nil {
		return nil, errors.New("replayweb: Options.Recordings is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LoginTTL <= 0 {
		o.LoginTTL = 12 * time.Hour
	}
	extractor, err := ipExtractor(o.TrustedProxies)
	if err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("replayweb: read csrf key: %w", err)
	}
	dummy, err := unmatchableHash()
	if err != nil {
		return nil, err
	}
	s := &Server{
		store: o.Store, casts: o.Recordings, live: o.Live, log: o.Logger, now: o.Now, o: o,
		logins:    newWebLogins(o.LoginTTL, o.Now),
		limit:     newLimiter(loginBurst, loginRefill, o.Now),
		loginCSRF: loginCSRF{key: key},
		pages:     pages,
		dummyHash: dummy,
	}
	s.pending = pendingLogins{now: o.Now}
	s.enrolling = newOnceMap[string](enrolTTL, o.Now)
	s.freshCodes = newOnceMap[[]string](enrolTTL, o.Now)
	s.ceremony = newOnceMap[webauthn.SessionData](ceremonyTTL, o.Now)
	s.tickets = newOnceMap[terminalTicket](ticketTTL, o.Now)
	if o.Terminal != nil {
		t := *o.Terminal
		terminalDefaults(&t)
		s.o.Terminal = &t
	}
	if o.PublicURL != "" {
		if s.passkeys, err = newWebAuthn(o.PublicURL); err != nil {
			return nil, err
		}
	}
	if o.OIDC != nil {
		if s.sso, err = newSSOClient(*o.OIDC, o.Now); err != nil {
			return nil, err
		}
	}
	s.e = s.newEcho(extractor)
	return s, nil
}

// Handler is the whole site, for an http.Server (with TLS when configured).
// Live views stream for as long as a session runs: the http.Server's
// WriteTimeout is lifted for those responses only.
func (s *Server) Handler() http.Handler { return s.e }

// ipExtractor returns the deliberate client-address rule: the TCP peer, or
// X-Forwarded-For believed only from the given proxies.
func ipExtractor(trusted []string) (echo.IPExtractor, error) {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect(), nil
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, t := range trusted {
		t = strings.TrimSpace(t)
		if !strings.Contains(t, "/") {
			ip := net.ParseIP(t)
			if ip == nil {
				return nil, fmt.Errorf("replayweb: trusted proxy %q: not an IP or CIDR", t)
			}
			if ip.To4() != nil {
				t += "/32"
			} else {
				t += "/128"
			}
		}
		_, n, err := net.ParseCIDR(t)
		if err != nil {
			return nil, fmt.Errorf("replayweb: trusted proxy %q: %w", t, err)
		}
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...), nil
}

// newEcho composes the middleware and routes in one visible place.
func (s *Server) newEcho(extractor echo.IPExtractor) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = extractor
	e.HTTPErrorHandler = s.handleError
	e.Use(s.securityHeaders, s.recoverPanic, limitBody)
	s.routes(e)
	return e
}

// routes registers every route. Each group carries its guard; the test
// TestEveryRouteIsGuarded enumerates e.Routes() so a new route cannot
// forget one.
func (s *Server) routes(e *echo.Echo) {
	// Public: liveness and readiness (ops.go), login, and the site's own
	// CSS/JS/player (no data).
	e.GET("/healthz", s.healthz)
	if s.o.Ready != nil {
		e.GET("/readyz", s.readyz)
	}
	e.GET("/login", s.loginPage)
	e.POST("/login", s.loginSubmit)
	e.GET("/login/2fa", s.secondPage)
	e.POST("/login/2fa", s.secondSubmit)
	if s.passkeys != nil {
		e.POST("/login/2fa/passkey/begin", s.passkeyLoginBegin)
		e.POST("/login/2fa/passkey/finish", s.passkeyLoginFinish)
	}
	if s.sso != nil {
		e.GET("/login/oidc", s.oidcStart)
		e.GET("/login/oidc/callback", s.oidcCallback)
	}
	static := e.Group("/static", s.staticCache)
	static.StaticFS("/", mustSub(embedded, "assets"))

	// Pages: a login cookie; forms carry the login's CSRF token. Every
	// handler that reaches a recording does so through recordingFor or
	// listFilter, which confine a user account to its own recordings.
	pages := e.Group("", s.requireLogin, s.checkCSRF)
	pages.GET("/", s.listPage)
	pages.GET("/recordings/:id", s.recordingPage)
	pages.GET("/recordings/:id/cast", s.castForPage)
	pages.GET("/recordings/:id/index", s.playerIndexOf)
	pages.GET("/recordings/:id/chunks/:n", s.playerChunkOf)
	pages.GET("/recordings/:id/live", s.liveEvents)
	pages.GET("/previews", s.previews)
	pages.POST("/recordings/:id/verify", s.verifyRecording)
	pages.POST("/logout", s.logout)
	s.terminalRoutes(pages)
	pages.GET("/audit", s.auditPage)
	pages.GET("/account", s.accountPage)
	pages.POST("/account/totp", s.accountTOTPBegin)
	pages.POST("/account/totp/confirm", s.accountTOTPConfirm)
	pages.POST("/account/recovery", s.accountRecovery)
	if s.passkeys != nil {
		pages.POST("/account/passkeys/begin", s.passkeyRegisterBegin)
		pages.POST("/account/passkeys/finish", s.passkeyRegisterFinish)
	}

	admin := e.Group("/admin", s.requireLogin, s.requireAdmin, s.checkCSRF)
	admin.GET("", s.adminPage)
	admin.POST("/auditors", s.adminPutAccount)
	admin.POST("/auditors/:name/delete", s.adminDeleteAccount)
	admin.POST("/tokens", s.adminCreateToken)
	admin.POST("/tokens/:id/delete", s.adminDeleteToken)
	admin.POST("/recordings/:id/end", s.adminEndSession)
	admin.POST("/locks", s.adminCreateLock)
	admin.POST("/locks/:id/delete", s.adminRemoveLock)

	// API: a login cookie or an API token; read-only.
	api := e.Group("/api", s.requireAPI)
	api.GET("/recordings", s.apiList)
	api.GET("/recordings/:id", s.apiGet)
	api.GET("/recordings/:id/cast", s.apiCast)
	if s.o.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(s.o.Metrics), s.requireAPI, s.requireSeesAll)
	}
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the folder is embedded at build time
	}
	return sub
}

// maxBody bounds a request body: the largest form (a new account) is well
// under a kilobyte.
const maxBody = 64 << 10

// limitBody refuses bodies over maxBody with 413: a declared larger
// Content-Length at once, a longer streamed form while it is parsed
// (parseFormLimited), any other body when the handler reads past the limit.
func limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > maxBody {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "request body too large")
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, maxBody)
		if err := parseFormLimited(r); err != nil {
			return err
		}
		return next(c)
	}
}

// recoverPanic turns a handler panic into a logged 500 instead of a dropped
// connection.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("web handler panic", "panic", fmt.Sprint(r), "path", c.Request().URL.Path, "stack", string(debug.Stack()))
				err = echo.NewHTTPError(http.StatusInternalServerError, "internal error")
			}
		}()
		return next(c)
	}
}

// csp is the Content-Security-Policy of every response: nothing from
// another origin, no inline script, no eval, no inline style.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// playerCSP is csp for the recording page, which runs xterm.js: it
// creates <style> elements for its theme and row metrics, admitted by
// nonce (stylenonce.js stamps this response's nonce on them before they are
// inserted; markup injected into the page cannot know it), and sets style
// attributes on cells drawn in 24-bit colour, which CSP can only admit as
// a whole (style-src-attr 'unsafe-inline'; attributes load nothing and run
// nothing: img-src and the rest still hold). Scripts stay 'self' only.
func playerCSP(nonce string) string {
	return csp + "; style-src-elem 'self' 'nonce-" + nonce + "'; style-src-attr 'unsafe-inline'"
}

func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if s.o.Secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}

// staticCache lets browsers keep the site's own assets for an hour (they
// carry no data; an upgrade is picked up within the hour).
func (s *Server) staticCache(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		return next(c)
	}
}
