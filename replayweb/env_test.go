package replayweb

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recfiles"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/store"
)

// testClock is a settable clock for web logins and rate limits.
type testClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a web site over a real bbolt store and a real recordings folder in
// t.TempDir().
type env struct {
	t      testing.TB
	srv    *Server
	store  *store.Store
	dir    string // the recordings folder
	casts  *recorder.Dir
	clock  *testClock
	events int
}

const testPassword = "correct horse battery"

func newEnv(t testing.TB, mod func(*Options)) *env {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "index.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return newEnvOn(t, st, mod)
}

// newEnvOn is newEnv on an open store (closed by the caller).
func newEnvOn(t testing.TB, st *store.Store, mod func(*Options)) *env {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "recordings")
	casts, err := recorder.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = casts.Close() })
	clock := &testClock{t: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}
	o := Options{
		Store: st, Recordings: &recfiles.Files{Dir: casts}, Now: clock.Now,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		SSHHint: "ssh -p 2222 user@target@bastion.example",
	}
	if mod != nil {
		mod(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, store: st, dir: dir, casts: casts, clock: clock}
	e.addAccount("alice", store.RoleAuditor)
	e.addAccount("root", store.RoleAdmin)
	return e
}

func (e *env) addAccount(name, role string) {
	e.t.Helper()
	h, err := HashPassword(testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.PutAccount(context.Background(), store.Account{Name: name, PasswordHash: h, Role: role, Created: e.clock.Now()}); err != nil {
		e.t.Fatal(err)
	}
}

// addRecording indexes a finished recording and writes its cast file.
func (e *env) addRecording(r recording.Meta, cast string) recording.Meta {
	e.t.Helper()
	if r.Start.IsZero() {
		r.Start = e.clock.Now().Add(-time.Hour).Add(time.Duration(e.events) * time.Minute)
	}
	e.events++
	if r.ID == "" {
		r.ID = recording.NewID(r.Start)
	}
	rel, err := recording.RelPath(r.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	if r.Path == "" {
		r.Path = rel
	}
	for _, d := range []*string{&r.User, &r.RemoteUser, &r.TargetAlias, &r.Kind} {
		if *d == "" {
			*d = "x"
		}
	}
	if r.TargetAddr == "" {
		r.TargetAddr = "10.0.0.5:22"
	}
	if r.ClientAddr == "" {
		r.ClientAddr = "192.0.2.10:50000"
	}
	if r.Width == 0 {
		r.Width, r.Height = 80, 24
	}
	if cast != "" {
		p := filepath.Join(e.dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(cast), 0o600); err != nil {
			e.t.Fatal(err)
		}
		r.FileSize = int64(len(cast))
	}
	status := r.Status
	r.Status = recording.StatusActive
	ctx := context.Background()
	if err := e.store.CreateRecording(ctx, &r); err != nil {
		e.t.Fatal(err)
	}
	if status != recording.StatusActive {
		if status == "" {
			status = recording.StatusFinished
		}
		r.Status = status
		if r.End.IsZero() {
			r.End = r.Start.Add(r.Duration)
		}
		if err := e.store.FinishRecording(ctx, &r); err != nil {
			e.t.Fatal(err)
		}
	}
	return r
}

const sampleCast = `{"version":2,"width":80,"height":24,"timestamp":1795510800,"title":"root@db1 — alice"}
[0.1,"o","$ echo hello\r\n"]
[0.2,"o","hello\r\n"]
[0.3,"m","done"]
[0.4,"o","$ exit\r\n"]
`

// client drives the handler directly (no network), keeping cookies like a
// browser and letting the test choose the client address.
type client struct {
	t    testing.TB
	h    http.Handler
	ip   string // RemoteAddr host
	jar  map[string]*http.Cookie
	hdr  http.Header // extra headers on every request
	last *http.Response
}

func (e *env) client() *client {
	return &client{t: e.t, h: e.srv.Handler(), ip: "198.51.100.7", jar: map[string]*http.Cookie{}, hdr: http.Header{}}
}

func (c *client) do(method, target string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	req.RemoteAddr = c.ip + ":40000"
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range c.hdr {
		req.Header[k] = v
	}
	for _, ck := range c.jar {
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	rr := httptest.NewRecorder()
	c.h.ServeHTTP(rr, req)
	res := rr.Result()
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.jar, ck.Name)
		} else {
			c.jar[ck.Name] = ck
		}
	}
	b, _ := io.ReadAll(res.Body)
	c.last = res
	return res, string(b)
}

func (c *client) get(target string) (*http.Response, string) {
	return c.do(http.MethodGet, target, nil)
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// csrfFrom returns the first form token on a page.
func csrfFrom(t testing.TB, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf token on page:\n%.2000s", page)
	}
	return m[1]
}

// login signs in through the login form and fails the test if it does not
// land where next says.
func (c *client) login(name, pw string) *http.Response {
	c.t.Helper()
	_, page := c.get("/login")
	res, body := c.do(http.MethodPost, "/login", url.Values{"_csrf": {csrfFrom(c.t, page)}, "name": {name}, "password": {pw}})
	if res.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login %s: status %d:\n%.1500s", name, res.StatusCode, body)
	}
	return res
}

// csrf returns the login's form token, read from a page like a browser.
func (c *client) csrf() string {
	c.t.Helper()
	_, page := c.get("/")
	return csrfFrom(c.t, page)
}

// auditOf returns the audit events about one recording, oldest first, as
// "kind user".
func auditOf(t *testing.T, e *env, id string) []string {
	t.Helper()
	evs, _, err := e.store.ListAudit(context.Background(), store.AuditFilter{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].SessionID == id {
			out = append(out, auditLine(evs[i].Kind, evs[i].User))
		}
	}
	return out
}

// auditLine is how auditOf words one event.
func auditLine(kind audit.Kind, user string) string { return string(kind) + " " + user }
