package replayweb

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/store"
)

var rowRE = regexp.MustCompile(`<tr data-id="([^"]+)">`)

// userEnv is an env where alice is a user account (a bastion user who sees
// her own sessions only), with 6 recordings of hers and 9 of bob's; one of
// hers and several of bob's mention "bob" in their title.
func userEnv(t *testing.T, mod func(*Options)) (e *env, alices, bobs []string) {
	t.Helper()
	e = newEnv(t, mod)
	e.addAccount("alice", store.RoleUser)
	for i := range 15 {
		r := recording.Meta{User: "bob", Title: fmt.Sprintf("bob session %d", i), Duration: time.Duration(i+1) * time.Second}
		if i%5 == 0 || i%5 == 2 {
			r.User, r.Title = "alice", fmt.Sprintf("alice session %d", i)
		}
		if i == 5 {
			r.Title = "pairing with bob"
		}
		r = e.addRecording(r, sampleCast)
		if r.User == "alice" {
			alices = append(alices, r.ID)
		} else {
			bobs = append(bobs, r.ID)
		}
	}
	return e, alices, bobs
}

func sorted(ids []string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

// apiIDs follows an API list's cursors to the end and returns every id.
func apiIDs(t *testing.T, c *client, query string) []string {
	t.Helper()
	var ids []string
	target := "/api/recordings?" + query
	for range 50 {
		res, body := c.get(target)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", target, res.StatusCode, body)
		}
		var page apiList
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Recordings {
			ids = append(ids, r.ID)
		}
		if page.Next == "" {
			return ids
		}
		v, _ := url.ParseQuery(query)
		v.Set("cursor", page.Next)
		target = "/api/recordings?" + v.Encode()
	}
	t.Fatal("more than 50 pages")
	return nil
}

func TestUserListsOnlyOwnRecordings(t *testing.T) {
	e, alices, bobs := userEnv(t, nil)
	c := e.client()
	c.login("alice", testPassword)

	_, body := c.get("/")
	if got := rowIDs(body); !slices.Equal(sorted(got), sorted(alices)) {
		t.Errorf("list page: %v, want alice's %v", got, alices)
	}
	if strings.Contains(body, `name="user"`) || !strings.Contains(body, `id="only-person" value="alice" disabled`) {
		t.Error("the list offers a person filter to a user account, or does not show it fixed to alice")
	}
	for _, q := range []string{"user=bob", "user=", "q=bob", "user=bob&q=bob", "user=bob&sort=duration", "remote_user=x&user=bob&status=finished"} {
		_, body := c.get("/?" + q)
		for _, id := range rowIDs(body) {
			if slices.Contains(bobs, id) {
				t.Errorf("/?%s lists bob's %s", q, id)
			}
		}
		if strings.Contains(body, "user=bob") {
			t.Errorf("/?%s echoes user=bob back into the page", q)
		}
		got := apiIDs(t, c, q+"&limit=2")
		want := alices
		if strings.Contains(q, "q=bob") {
			want = alices[2:3] // "pairing with bob"
		}
		if !slices.Equal(sorted(got), sorted(want)) {
			t.Errorf("API ?%s: %v, want %v", q, got, want)
		}
	}

	// Cursor tricks: a cursor an auditor got on bob's list, replayed by
	// alice, resumes within her own list (or is refused), never within bob's.
	auditor := e.client()
	auditor.ip = "198.51.100.9"
	e.addAccount("carol", store.RoleAuditor)
	auditor.login("carol", testPassword)
	for _, q := range []string{"user=bob&limit=2", "user=bob&limit=2&sort=duration", "limit=1"} {
		_, body := auditor.get("/api/recordings?" + q)
		var page apiList
		if err := json.Unmarshal([]byte(body), &page); err != nil || page.Next == "" {
			t.Fatalf("auditor's %s: %v %q", q, err, body)
		}
		v, _ := url.ParseQuery(q)
		v.Set("cursor", page.Next)
		res, body := c.get("/api/recordings?" + v.Encode())
		if res.StatusCode == 200 {
			if err := json.Unmarshal([]byte(body), &page); err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Recordings {
				if r.User != "alice" {
					t.Errorf("bob's cursor %s gave alice %s of %s", q, r.ID, r.User)
				}
			}
		} else if res.StatusCode != http.StatusBadRequest {
			t.Errorf("bob's cursor %s: %d", q, res.StatusCode)
		}
		if res, body := c.get("/?" + v.Encode()); res.StatusCode == 200 {
			for _, id := range rowIDs(body) {
				if slices.Contains(bobs, id) {
					t.Errorf("list page with bob's cursor %s shows bob's %s", q, id)
				}
			}
		}
	}
	// An auditor still sees both and may filter by person.
	if got := apiIDs(t, auditor, "user=bob"); !slices.Equal(sorted(got), sorted(bobs)) {
		t.Errorf("auditor, user=bob: %v", got)
	}
}

func rowIDs(body string) []string {
	var ids []string
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// TestUserCannotReachOthersRecordings: every way to a recording of bob's
// answers alice exactly like an unknown id, writes no playback event, and
// her own recordings play and are audited.
func TestUserCannotReachOthersRecordings(t *testing.T) {
	e, alices, bobs := userEnv(t, nil)
	c := e.client()
	c.login("alice", testPassword)
	bob, unknown := bobs[0], recording.NewID(e.clock.Now())
	for _, suffix := range []string{"", "/cast", "/cast?download=1", "/live", "/index", "/chunks/0", "/chunks/0?only=keyframe"} {
		for _, prefix := range []string{"/recordings/", "/api/recordings/"} {
			if prefix == "/api/recordings/" && suffix != "" && suffix != "/cast" {
				continue
			}
			res, body := c.get(prefix + bob + suffix)
			uRes, uBody := c.get(prefix + unknown + suffix)
			if res.StatusCode != http.StatusNotFound || res.StatusCode != uRes.StatusCode || body != uBody {
				t.Errorf("%s%s: bob's %d %q, unknown %d %q", prefix, "ID"+suffix, res.StatusCode, body, uRes.StatusCode, uBody)
			}
		}
	}
	if ev := auditOf(t, e, bob); len(ev) != 0 {
		t.Errorf("audit about bob's recording: %v", ev)
	}

	own := alices[0]
	if res, body := c.get("/recordings/" + own); res.StatusCode != 200 || !strings.Contains(body, `data-base="/recordings/`+own+`"`) {
		t.Errorf("her own recording page: %d", res.StatusCode)
	}
	if res, body := c.get("/recordings/" + own + "/index"); res.StatusCode != 200 || !strings.Contains(body, `"chunks":[{`) {
		t.Errorf("her own recording's index: %d %q", res.StatusCode, body)
	}
	if res, body := c.get("/recordings/" + own + "/chunks/0"); res.StatusCode != 200 || !strings.Contains(body, `"events":[[`) {
		t.Errorf("her own recording's first chunk: %d %q", res.StatusCode, body)
	}
	if res, body := c.get("/recordings/" + own + "/cast"); res.StatusCode != 200 || body != sampleCast {
		t.Errorf("her own cast: %d %q", res.StatusCode, body)
	}
	if res, _ := c.get("/recordings/" + own + "/cast?download=1"); res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("her own download: %d %q", res.StatusCode, res.Header.Get("Content-Disposition"))
	}
	if res, body := c.get("/api/recordings/" + own); res.StatusCode != 200 || !strings.Contains(body, `"user":"alice"`) {
		t.Errorf("her own API detail: %d %s", res.StatusCode, body)
	}
	if res, _ := c.get("/api/recordings/" + own + "/cast"); res.StatusCode != 200 {
		t.Errorf("her own API cast: %d", res.StatusCode)
	}
	if ev := auditOf(t, e, own); !slices.Equal(ev, []string{auditLine(audit.KindPlayback, "alice"), auditLine(audit.KindPlayback, "alice"), auditLine(audit.KindDownload, "alice"), auditLine(audit.KindDownload, "alice")}) {
		// The index is the page's playback; its chunks add none; the cast
		// read as a whole is one more.
		t.Errorf("audit of her own: %v", ev)
	}

	// No administration, no metrics, and the menu does not offer them.
	for _, p := range []string{"/admin"} {
		if res, _ := c.get(p); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s as a user: %d, want 403", p, res.StatusCode)
		}
	}
	if _, body := c.get("/"); strings.Contains(body, `href="/admin"`) || !strings.Contains(body, "alice · user") {
		t.Error("a user's menu offers Admin or does not say who and what they are")
	}
}

func TestUserMetricsAndTokens(t *testing.T) {
	e, alices, bobs := userEnv(t, func(o *Options) { o.Metrics = http.NotFoundHandler() })
	c := e.client()
	c.login("alice", testPassword)
	if res, _ := c.get("/metrics"); res.StatusCode != http.StatusForbidden {
		t.Errorf("/metrics for a user: %d, want 403", res.StatusCode)
	}
	// A token made for carol (an auditor) sees everything; once carol is a
	// user account, the same token sees only carol's (none).
	e.addAccount("carol", store.RoleAuditor)
	secret, tok := NewAPIToken()
	tok.Owner, tok.Name = "carol", "export"
	if err := e.store.PutToken(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	bearer := e.client()
	bearer.hdr.Set("Authorization", "Bearer "+secret)
	if got := apiIDs(t, bearer, "limit=500"); len(got) != len(alices)+len(bobs) {
		t.Errorf("auditor's token: %d recordings, want %d", len(got), len(alices)+len(bobs))
	}
	if res, _ := bearer.get("/metrics"); res.StatusCode != http.StatusNotFound { // NotFoundHandler: admitted
		t.Errorf("/metrics for an auditor's token: %d", res.StatusCode)
	}
	e.addAccount("carol", store.RoleUser)
	if got := apiIDs(t, bearer, "user=bob"); len(got) != 0 {
		t.Errorf("token of a user account: %v", got)
	}
	if res, _ := bearer.get("/api/recordings/" + bobs[0]); res.StatusCode != http.StatusNotFound {
		t.Errorf("token of a user account, bob's recording: %d", res.StatusCode)
	}
	if res, _ := bearer.get("/metrics"); res.StatusCode != http.StatusForbidden {
		t.Errorf("/metrics for a user's token: %d, want 403", res.StatusCode)
	}
}

// TestRoleChangeOutsideTheSite: the CLI changes accounts in the store
// directly, without the site's login table. An auditor made a user there
// loses the auditor's view at the next request, not at the login's end.
func TestRoleChangeOutsideTheSite(t *testing.T) {
	e, _, _ := userEnv(t, nil)
	e.addAccount("carol", store.RoleAuditor)
	e.addRecording(recording.Meta{User: "carol"}, sampleCast)
	c := e.client()
	c.login("carol", testPassword)
	if got := apiIDs(t, c, ""); len(got) != 16 {
		t.Fatalf("carol as auditor: %d recordings", len(got))
	}
	e.addAccount("carol", store.RoleUser) // jumpcast auditor add carol --role user
	if res, _ := c.get("/"); res.StatusCode != http.StatusFound {
		t.Errorf("carol's auditor login after her demotion: %d, want 302 to /login", res.StatusCode)
	}
	if res, _ := c.get("/api/recordings"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("carol's API access after her demotion: %d, want 401", res.StatusCode)
	}
	c.login("carol", testPassword)
	if got := apiIDs(t, c, ""); len(got) != 1 {
		t.Errorf("carol as a user: %d recordings, want her 1", len(got))
	}
	// Deleted outside the site: the login ends too.
	if err := e.store.DeleteAccount(t.Context(), "carol"); err != nil {
		t.Fatal(err)
	}
	if res, _ := c.get("/"); res.StatusCode != http.StatusFound {
		t.Errorf("a deleted account's login: %d, want 302", res.StatusCode)
	}
}

func TestUserEmptyState(t *testing.T) {
	e := newEnv(t, nil)
	e.addAccount("dan", store.RoleUser)
	e.addRecording(recording.Meta{User: "bob"}, sampleCast)
	c := e.client()
	c.login("dan", testPassword)
	_, body := c.get("/")
	if !strings.Contains(body, "No recordings of your sessions yet") || !strings.Contains(body, "<strong>dan</strong>") {
		t.Errorf("empty state of a user:\n%s", body)
	}
}

func TestAdminCreatesUserAccount(t *testing.T) {
	e := newEnv(t, nil)
	root := e.client()
	root.login("root", testPassword)
	_, page := root.get("/admin")
	if !strings.Contains(page, `<option value="user">`) {
		t.Error("the admin page does not offer the user role")
	}
	res, _ := root.do(http.MethodPost, "/admin/auditors", url.Values{"_csrf": {root.csrf()}, "name": {"erin"}, "password": {"a long enough password"}, "role": {"user"}})
	if a, err := e.store.GetAccount(t.Context(), "erin"); res.StatusCode != 200 || err != nil || a.Role != store.RoleUser {
		t.Errorf("add a user account: %d, %+v, %v", res.StatusCode, a, err)
	}
	res, body := root.do(http.MethodPost, "/admin/auditors", url.Values{"_csrf": {root.csrf()}, "name": {"frank"}, "password": {"a long enough password"}, "role": {"superuser"}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "auditor, user or admin") {
		t.Errorf("unknown role: %d", res.StatusCode)
	}
	if _, err := e.store.GetAccount(t.Context(), "frank"); err == nil {
		t.Error("an account with an unknown role was made")
	}
}

// TestUserLiveView: bob's running session is not live for alice (404 like
// an unknown id, no playback event); her own streams and is audited.
func TestUserLiveView(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	e, m := newLiveEnv(t)
	e.addAccount("alice", store.RoleUser)
	bobs := startSession(t, m, "bob", "db1")
	defer bobs.Close(context.Background(), asciicast.Exit{})
	hers := startSession(t, m, "alice", "db2")
	if err := hers.Output([]byte("alice-live\r\n")); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.login("alice", testPassword)
	_, body := c.get("/")
	if strings.Contains(body, bobs.ID()) || !strings.Contains(body, hers.ID()) {
		t.Error("alice's list shows bob's live session or not hers")
	}
	res, body := c.get("/recordings/" + bobs.ID() + "/live")
	uRes, uBody := c.get("/recordings/" + recording.NewID(time.Now()) + "/live")
	if res.StatusCode != http.StatusNotFound || res.StatusCode != uRes.StatusCode || body != uBody {
		t.Errorf("bob's live stream: %d %q; unknown: %d %q", res.StatusCode, body, uRes.StatusCode, uBody)
	}
	if ev := auditOf(t, e, bobs.ID()); len(ev) != 0 {
		t.Errorf("audit about bob's live session: %v", ev)
	}

	ts := httptest.NewServer(e.srv.Handler())
	defer ts.Close()
	lres := c.openLive(t, ts.URL, hers.ID())
	defer lres.Body.Close() // before goleak's check, which runs ahead of cleanups
	if lres.StatusCode != 200 {
		t.Fatalf("her own live stream: %d", lres.StatusCode)
	}
	r := &sseReader{t: t, sc: bufio.NewScanner(lres.Body)}
	r.next() // header
	if ev := r.event(); ev.Data != "alice-live\r\n" {
		t.Errorf("her live backlog: %+v", ev)
	}
	if err := hers.Close(t.Context(), asciicast.Exit{Status: 0, HasStatus: true}); err != nil {
		t.Fatal(err)
	}
	r.event() // exit
	if name, _ := r.next(); name != "done" {
		t.Errorf("want done, got %q", name)
	}
	if ev := auditOf(t, e, hers.ID()); !slices.Equal(ev, []string{auditLine(audit.KindPlayback, "alice")}) {
		t.Errorf("audit of her live view: %v", ev)
	}
	http.DefaultClient.CloseIdleConnections()
}
