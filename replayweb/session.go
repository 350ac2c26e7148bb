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
)

// sessionCookie is the name of the login session cookie. The __Host- prefix
// (path /, no Domain, Secure) is used when Secure is set.
const (
	sessionCookie       = "jc_session"
	secureSessionCookie = "__Host-jc_session"
	loginCookie         = "jc_login"
	secureLoginCookie   = "__Host-jc_login"
	// maxSessions bounds the in-memory session table; past it the oldest
	// sessions are dropped first.
	maxSessions = 10000
)

// session is one logged-in browser. Fields never change after creation.
type session struct {
	id      string // the cookie value; 256 random bits
	user    string
	role    string
	csrf    string // synchronizer token for this session's forms
	created time.Time
	expires time.Time
}

// sessions is the server-side session table. Sessions live in memory: a
// restart logs everyone out, which is acceptable for an audit site.
type sessions struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex          // guards m
	m  map[string]*session // by session id
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, now: now, m: make(map[string]*session)}
}

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("replayweb: crypto/rand: %v", err)) // never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create makes a new session with a fresh id for user. A login always
// creates a new id, so an id planted before login (session fixation) is never
// promoted.
func (s *sessions) create(user, role string) *session {
	now := s.now()
	ss := &session{id: randomToken(), user: user, role: role, csrf: randomToken(), created: now, expires: now.Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxSessions {
		s.sweepLocked(now)
	}
	for len(s.m) >= maxSessions { // still full: drop the oldest
		var oldest *session
		for _, v := range s.m {
			if oldest == nil || v.created.Before(oldest.created) {
				oldest = v
			}
		}
		delete(s.m, oldest.id)
	}
	s.m[ss.id] = ss
	return ss
}

// get returns the live session with this id, or nil.
func (s *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[id]
	if ss == nil {
		return nil
	}
	if !s.now().Before(ss.expires) {
		delete(s.m, id)
		return nil
	}
	return ss
}

// remove ends a session (logout).
func (s *sessions) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// removeUser ends every session of user (account deleted or role changed).
func (s *sessions) removeUser(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, ss := range s.m {
		if ss.user == user {
			delete(s.m, id)
		}
	}
}

// removeUserExcept ends every session of user but the one with id keep
// (a password change made from that session).
func (s *sessions) removeUserExcept(user, keep string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, ss := range s.m {
		if ss.user == user && id != keep {
			delete(s.m, id)
		}
	}
}

func (s *sessions) sweepLocked(now time.Time) {
	for id, ss := range s.m {
		if !now.Before(ss.expires) {
			delete(s.m, id)
		}
	}
}

// loginCSRF protects the login form, which has no session yet, with a signed
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
