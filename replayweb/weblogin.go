package replayweb

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	"github.com/jumpcast/jumpcast/store"
)

// Cookie names. webLoginCookie holds a logged-in browser's login id; it
// keeps its first name, "jc_session", which browsers and reverse-proxy
// rules already know (elsewhere in jumpcast "session" means an SSH
// session). loginNonceCookie holds the login form's CSRF nonce before there
// is a login. The __Host- prefix (path /, no Domain, Secure) is used when
// Options.Secure is set.
const (
	webLoginCookie         = "jc_session"
	secureWebLoginCookie   = "__Host-jc_session"
	loginNonceCookie       = "jc_login"
	secureLoginNonceCookie = "__Host-jc_login"
	// maxWebLogins bounds the in-memory login table; past it the oldest
	// logins are dropped first.
	maxWebLogins = 10000
)

// webLogin is one logged-in browser. Fields never change after creation.
type webLogin struct {
	id      string // the cookie value; 256 random bits
	user    string
	role    string
	version uint64 // the account's store.Account.CredentialVersion at login
	csrf    string // synchronizer token for this login's forms
	created time.Time
	expires time.Time
	// sso marks a single sign-on (oidc.go): it has no local account, its
	// role came from the provider's groups, subject is the provider's
	// "sub" and idToken the raw ID token (the hint at logout).
	sso     bool
	subject string
	idToken string
	// mustEnroll marks a login of an account without a second factor
	// while one is required: it may reach only enrolPaths.
	mustEnroll bool
	// strong marks a sign-in with a second factor or single sign-on, made
	// at created: the terminal page (terminal.go) wants one that is recent.
	strong bool
}

// webLogins is the server-side login table. Logins live in memory: a
// restart logs everyone out, which is acceptable for an audit site.
type webLogins struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex           // guards m
	m  map[string]*webLogin // by login id
}

func newWebLogins(ttl time.Duration, now func() time.Time) *webLogins {
	return &webLogins{ttl: ttl, now: now, m: make(map[string]*webLogin)}
}

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("replayweb: crypto/rand: %v", err)) // never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create makes a new login with a fresh id for account a; strong when a
// second factor was part of it. A login always creates a new id, so an id
// planted before login (session fixation) is never promoted.
func (s *webLogins) create(a *store.Account, mustEnroll, strong bool) *webLogin {
	now := s.now()
	return s.add(&webLogin{id: randomToken(), user: a.Name, role: a.Role, version: a.CredentialVersion,
		csrf: randomToken(), created: now, expires: now.Add(s.ttl), mustEnroll: mustEnroll, strong: strong})
}

// enrolled replaces old, a login that had to enrol a second factor, by
// one with a fresh id and CSRF token that may go everywhere, keeping
// old's expiry.
func (s *webLogins) enrolled(old *webLogin) *webLogin {
	s.remove(old.id)
	l := *old
	l.id, l.csrf, l.mustEnroll = randomToken(), randomToken(), false
	return s.add(&l)
}

// rotate replaces old by a login with a fresh id and CSRF token that holds
// account a's current credentials and keeps old's expiry: the browser that
// changed its own password goes on, under an id that no copy of the old
// cookie knows.
func (s *webLogins) rotate(old *webLogin, a *store.Account) *webLogin {
	s.remove(old.id)
	return s.add(&webLogin{id: randomToken(), user: a.Name, role: a.Role, version: a.CredentialVersion,
		csrf: randomToken(), created: old.created, expires: old.expires})
}

// add puts l in the table, dropping expired logins and then the oldest
// when it is full.
func (s *webLogins) add(l *webLogin) *webLogin {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxWebLogins {
		s.sweepLocked(now)
	}
	for len(s.m) >= maxWebLogins { // still full: drop the oldest
		var oldest *webLogin
		for _, v := range s.m {
			if oldest == nil || v.created.Before(oldest.created) {
				oldest = v
			}
		}
		delete(s.m, oldest.id)
	}
	s.m[l.id] = l
	return l
}

// get returns the live login with this id, or nil.
func (s *webLogins) get(id string) *webLogin {
	if id == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.m[id]
	if l == nil {
		return nil
	}
	if !s.now().Before(l.expires) {
		delete(s.m, id)
		return nil
	}
	return l
}

// remove ends a login (logout).
func (s *webLogins) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

func (s *webLogins) sweepLocked(now time.Time) {
	for id, l := range s.m {
		if !now.Before(l.expires) {
			delete(s.m, id)
		}
	}
}

// loginCSRF protects the login form, which has no login yet, with a signed
// double-submit token: the browser holds a random nonce in an HttpOnly
// cookie, the form carries HMAC(key, nonce). A forged cross-site form cannot
// know the nonce, and SameSite=Strict keeps the cookie off cross-site posts.
type loginCSRF struct{ key []byte }

func (l loginCSRF) token(nonce string) string {
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte("login-csrf\x00" + nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (l loginCSRF) valid(nonce, tok string) bool {
	if nonce == "" || tok == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(l.token(nonce)), []byte(tok)) == 1
}
