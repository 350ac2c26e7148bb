package replayweb

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/lock"
	"github.com/jumpcast/jumpcast/store"
)

// fakeLocks keeps locks in memory and records who asked, as the program's
// lock keeper would store, audit and apply them.
type fakeLocks struct {
	mu    sync.Mutex
	locks []lock.Lock
	calls []string // "create|who|by|target|reason" or "remove|who|by|id"
}

func (f *fakeLocks) ListLocks(context.Context) ([]lock.Lock, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]lock.Lock(nil), f.locks...), nil
}

func (f *fakeLocks) CreateLock(_ context.Context, who audit.Who, by string, l lock.Lock) (lock.Lock, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l.ID, l.CreatedBy, l.Created = "l"+string(rune('0'+len(f.locks))), by, time.Now()
	f.locks = append(f.locks, l)
	f.calls = append(f.calls, "create|"+who.User+"@"+who.RemoteAddr+"|"+by+"|"+l.Target.String()+"|"+l.Reason)
	return l, nil
}

func (f *fakeLocks) RemoveLock(_ context.Context, who audit.Who, by, id string) (lock.Lock, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, l := range f.locks {
		if l.ID == id {
			f.locks = append(f.locks[:i], f.locks[i+1:]...)
			f.calls = append(f.calls, "remove|"+who.User+"@"+who.RemoteAddr+"|"+by+"|"+id)
			return l, nil
		}
	}
	return lock.Lock{}, store.ErrNotFound
}

func (f *fakeLocks) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// TestAdminLocks: an admin lists, makes and removes locks on the admin
// page, with the CSRF token, as "admin NAME" from their address; bad forms
// and auditors make nothing.
func TestAdminLocks(t *testing.T) {
	locks := &fakeLocks{}
	e := newEnv(t, func(o *Options) { o.Locks = locks })

	auditor := e.client()
	auditor.login("alice", testPassword)
	if res, _ := auditor.do(http.MethodPost, "/admin/locks", url.Values{"_csrf": {auditor.csrf()}, "what": {"user"}, "name": {"bob"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("an auditor's lock: %d, want 403", res.StatusCode)
	}

	admin := e.client()
	admin.ip = "198.51.100.20"
	admin.login("root", testPassword)
	_, page := admin.get("/admin")
	if !strings.Contains(page, `id="locks-panel"`) || !strings.Contains(page, "No locks.") {
		t.Fatal("no locks panel on the admin page")
	}
	tok := csrfFrom(t, page)
	if res, _ := admin.do(http.MethodPost, "/admin/locks", url.Values{"what": {"user"}, "name": {"bob"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("a lock without the CSRF token: %d, want 403", res.StatusCode)
	}
	for _, bad := range []url.Values{
		{"what": {"host"}, "name": {"bob"}},
		{"what": {"user"}, "name": {""}},
		{"what": {"key"}, "name": {"MD5:aa"}},
		{"what": {"user"}, "name": {"bob"}, "for": {"soon"}},
		{"what": {"user"}, "name": {"bob"}, "reason": {"\x1b]52;c;eA==\a"}},
	} {
		bad.Set("_csrf", tok)
		if res, _ := admin.do(http.MethodPost, "/admin/locks", bad); res.StatusCode != http.StatusBadRequest {
			t.Errorf("form %v: %d, want 400", bad, res.StatusCode)
		}
	}
	if got := locks.list(); len(got) != 0 {
		t.Fatalf("bad forms made locks: %q", got)
	}
	res, page := admin.do(http.MethodPost, "/admin/locks", url.Values{"_csrf": {tok}, "what": {"target"}, "name": {"db1"},
		"for": {"2h"}, "reason": {"maintenance <b>now</b>"}})
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "Lock l0 made: target db1") {
		t.Fatalf("make a lock: %d", res.StatusCode)
	}
	if !strings.Contains(page, "maintenance &lt;b&gt;now&lt;/b&gt;") || !strings.Contains(page, `action="/admin/locks/l0/delete"`) {
		t.Error("the new lock is not listed (escaped) with its Remove button")
	}
	if got := locks.list(); len(got) != 1 || got[0] != "create|root@198.51.100.20|admin root|target db1|maintenance <b>now</b>" {
		t.Errorf("lock keeper asked %q", got)
	}
	locks.mu.Lock()
	if exp := locks.locks[0].Expires; !exp.Equal(e.clock.Now().Add(2 * time.Hour)) {
		t.Errorf("expires %v, want 2h from now", exp)
	}
	locks.mu.Unlock()
	if res, page := admin.do(http.MethodPost, "/admin/locks/l0/delete", url.Values{"_csrf": {tok}}); res.StatusCode != http.StatusOK || !strings.Contains(page, "No locks.") {
		t.Errorf("remove: %d", res.StatusCode)
	}
	if got := locks.list(); len(got) != 2 || got[1] != "remove|root@198.51.100.20|admin root|l0" {
		t.Errorf("lock keeper asked %q", got)
	}
	if res, _ := admin.do(http.MethodPost, "/admin/locks/l0/delete", url.Values{"_csrf": {tok}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("remove again: %d, want 404", res.StatusCode)
	}
}
