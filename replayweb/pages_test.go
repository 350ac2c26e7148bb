package replayweb

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

func TestUserTextIsEscaped(t *testing.T) {
	e := newEnv(t, nil)
	rec := e.addRecording(recording.Meta{
		Title:          `<script>alert(1)</script>`,
		Command:        `"><img src=x onerror=alert(2)>`,
		RemoteUser:     `<b>root</b>`,
		User:           `bob'"><svg onload=alert(3)>`,
		TargetAlias:    `db1<iframe>`,
		KeyFingerprint: `SHA256:<i>x</i>`,
		Kind:           "exec",
	}, sampleCast)
	c := e.client()
	c.login("alice", testPassword)
	for _, target := range []string{"/", "/recordings/" + rec.ID, "/?q=" + url.QueryEscape(`<script>alert(1)</script>`)} {
		res, body := c.get(target)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", target, res.StatusCode)
		}
		for _, raw := range []string{"<script>alert", "<img src=x", "<b>root", "<svg onload", "<iframe>", "<i>x</i>"} {
			if strings.Contains(body, raw) {
				t.Errorf("%s: raw %q in the page", target, raw)
			}
		}
		if !strings.Contains(body, "&lt;b&gt;root&lt;/b&gt;") {
			t.Errorf("%s: the escaped remote user is missing", target)
		}
	}
	_, body := c.get("/recordings/" + rec.ID)
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;", "SHA256:&lt;i&gt;x&lt;/i&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("recording page: missing %q", want)
		}
	}
}

func TestListFiltersSortAndPages(t *testing.T) {
	e := newEnv(t, nil)
	day := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	for i := range 60 {
		who := "alice"
		if i%3 == 0 {
			who = "bob"
		}
		e.addRecording(recording.Meta{
			User: who, RemoteUser: "root", TargetAlias: fmt.Sprintf("db%d", i%2), Kind: "shell",
			Start: day.Add(time.Duration(i) * time.Hour), Duration: time.Duration(i+1) * time.Second,
			Title: fmt.Sprintf("session number %d", i),
		}, sampleCast)
	}
	c := e.client()
	c.login("alice", testPassword)
	rows := regexp.MustCompile(`<tr data-id="([^"]+)">`)

	_, body := c.get("/")
	if n := len(rows.FindAllString(body, -1)); n != pageSize {
		t.Fatalf("first page: %d rows, want %d", n, pageSize)
	}
	next := regexp.MustCompile(`id="next" href="([^"]+)"`).FindStringSubmatch(body)
	if next == nil {
		t.Fatal("no next-page link")
	}
	_, body = c.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if n := len(rows.FindAllString(body, -1)); n != 10 {
		t.Fatalf("second page: %d rows, want 10", n)
	}

	// Filters are in the URL, so this link is shareable.
	_, body = c.get("/?user=bob&target=db0&status=finished")
	got := rows.FindAllStringSubmatch(body, -1)
	if len(got) != 10 { // i%3==0 and i%2==0: i%6==0 -> 10 of 60
		t.Fatalf("user=bob target=db0: %d rows, want 10", len(got))
	}
	if !strings.Contains(body, `id="user" name="user" value="bob"`) {
		t.Error("the filter form does not show the active filter")
	}
	// Date range: 2026-11-21 is hours 16..39.
	_, body = c.get("/?since=2026-11-21&until=2026-11-21")
	if n := len(rows.FindAllString(body, -1)); n != 24 {
		t.Errorf("one day: %d rows, want 24", n)
	}
	// Free text.
	_, body = c.get("/?q=number+42")
	if n := len(rows.FindAllString(body, -1)); n != 1 {
		t.Errorf("text: %d rows, want 1", n)
	}
	// Sort by duration, longest first, then flipped.
	_, body = c.get("/?sort=duration&limit=3")
	first := rows.FindStringSubmatch(body)
	if first == nil {
		t.Fatal("no rows sorted by duration")
	}
	r, err := e.store.GetRecording(t.Context(), first[1])
	if err != nil || r.Duration != 60*time.Second {
		t.Errorf("longest first: got %v (%v)", r, err)
	}
	if !strings.Contains(body, `href="/?order=asc&amp;sort=duration"`) {
		t.Error("the duration header does not offer the flipped order")
	}
	for _, bad := range []string{"/?status=exploded", "/?sort=title", "/?since=yesterday", "/?cursor=garbage"} {
		if res, _ := c.get(bad); res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, res.StatusCode)
		}
	}
	_, body = c.get("/?user=nobody")
	if !strings.Contains(body, "No recordings match these filters") {
		t.Error("no empty-filter message")
	}
}

func TestEmptyState(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client()
	c.login("alice", testPassword)
	_, body := c.get("/")
	if !strings.Contains(body, "No recordings yet") || !strings.Contains(body, "<code>ssh -p 2222 user@target@bastion.example</code>") {
		t.Errorf("empty state:\n%s", body)
	}
}

func TestRecordingPageAndCast(t *testing.T) {
	e := newEnv(t, nil)
	code := 3
	rec := e.addRecording(recording.Meta{
		User: "alice", RemoteUser: "root", TargetAlias: "db1", TargetAddr: "10.0.0.5:22", Kind: "shell",
		KeyFingerprint: "SHA256:abcdefghijklmnop", SHA256: strings.Repeat("ab", 32), ExitStatus: &code, Duration: 4 * time.Second,
	}, sampleCast)
	c := e.client()
	c.login("alice", testPassword)
	res, body := c.get("/recordings/" + rec.ID)
	if res.StatusCode != 200 {
		t.Fatalf("page: %d", res.StatusCode)
	}
	for _, want := range []string{"SHA256:abcdefghijklmnop", strings.Repeat("ab", 32), "10.0.0.5:22", `data-base="/recordings/` + rec.ID + `"`,
		`href="/recordings/` + rec.ID + `/cast?download=1"`, "/static/vendor/xterm/xterm.js", "/static/player.js", "<dd>3</dd>"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, " style=") {
		t.Error("inline script or style on the page (the CSP forbids them)")
	}

	// Plain.
	res, body = c.get("/recordings/" + rec.ID + "/cast")
	if res.Header.Get("Content-Type") != "application/x-asciicast" || body != sampleCast || res.Header.Get("Content-Encoding") != "" {
		t.Errorf("plain cast: %q %q", res.Header.Get("Content-Type"), res.Header.Get("Content-Encoding"))
	}
	// Gzip when accepted.
	c.hdr.Set("Accept-Encoding", "br;q=1.0, gzip;q=0.8")
	res, body = c.get("/recordings/" + rec.ID + "/cast?download=1")
	c.hdr.Del("Accept-Encoding")
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("gzip download: %v", res.Header)
	}
	zr, err := gzip.NewReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if string(plain) != sampleCast {
		t.Errorf("gunzipped cast differs: %q", plain)
	}
	c.hdr.Set("Accept-Encoding", "gzip;q=0, identity")
	if res, _ := c.get("/recordings/" + rec.ID + "/cast"); res.Header.Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 got gzip")
	}
	c.hdr.Del("Accept-Encoding")

	events := auditOf(t, e, rec.ID)
	want := []string{auditLine(audit.KindPlayback, "alice"), auditLine(audit.KindDownload, "alice"), auditLine(audit.KindPlayback, "alice")}
	if strings.Join(events, ",") != strings.Join(want, ",") {
		t.Errorf("audit events for %s: %v, want %v", rec.ID, events, want)
	}
}

func TestAPI(t *testing.T) {
	e := newEnv(t, nil)
	rec := e.addRecording(recording.Meta{User: "bob", RemoteUser: "postgres", TargetAlias: "db2"}, sampleCast)
	e.addRecording(recording.Meta{User: "carol"}, sampleCast)

	admin := e.client()
	admin.login("root", testPassword)
	res, body := admin.do(http.MethodPost, "/admin/tokens", url.Values{"_csrf": {admin.csrf()}, "name": {"nightly export"}})
	m := regexp.MustCompile(`id="new-secret">([^<]+)<`).FindStringSubmatch(body)
	if res.StatusCode != 200 || m == nil {
		t.Fatalf("create token: %d", res.StatusCode)
	}
	secret := m[1]

	script := e.client()
	script.hdr.Set("Authorization", "Bearer "+secret)
	res, body = script.get("/api/recordings?user=bob")
	var list struct {
		Recordings []recording.Meta `json:"recordings"`
		Next       string           `json:"next"`
	}
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list.Recordings) != 1 || list.Recordings[0].ID != rec.ID {
		t.Fatalf("api list with token: %d %s", res.StatusCode, body)
	}
	_, body = script.get("/api/recordings?limit=1")
	if json.Unmarshal([]byte(body), &list) != nil || len(list.Recordings) != 1 || list.Next == "" {
		t.Fatalf("api page of 1: %s", body)
	}
	_, body = script.get("/api/recordings?limit=1&cursor=" + url.QueryEscape(list.Next))
	if json.Unmarshal([]byte(body), &list) != nil || len(list.Recordings) != 1 || list.Recordings[0].ID != rec.ID {
		t.Fatalf("api second page: %s", body)
	}
	res, body = script.get("/api/recordings/" + rec.ID)
	var one recording.Meta
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &one) != nil || one.RemoteUser != "postgres" {
		t.Fatalf("api get: %d %s", res.StatusCode, body)
	}
	res, body = script.get("/api/recordings/" + rec.ID + "/cast")
	if res.StatusCode != 200 || body != sampleCast {
		t.Fatalf("api cast: %d", res.StatusCode)
	}
	// The login cookie works on the API too.
	if res, _ := admin.get("/api/recordings"); res.StatusCode != 200 {
		t.Errorf("api with a login: %d", res.StatusCode)
	}
	// A token is no key to the pages.
	if res, _ := script.get("/"); res.StatusCode != http.StatusFound {
		t.Errorf("token on a page: %d", res.StatusCode)
	}
	// Wrong, malformed and revoked tokens.
	for _, h := range []string{"Bearer " + secret + "x", "Bearer jct_nope", "Basic " + secret, secret} {
		bad := e.client()
		bad.hdr.Set("Authorization", h)
		if res, body := bad.get("/api/recordings"); res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
			t.Errorf("Authorization %.20q: %d %s", h, res.StatusCode, body)
		}
	}
	_, page := admin.get("/admin")
	del := regexp.MustCompile(`action="/admin/tokens/([0-9a-f]+)/delete"`).FindStringSubmatch(page)
	if del == nil {
		t.Fatal("no revoke button")
	}
	admin.do(http.MethodPost, "/admin/tokens/"+del[1]+"/delete", url.Values{"_csrf": {admin.csrf()}})
	if res, _ := script.get("/api/recordings"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked token: %d", res.StatusCode)
	}
	if ev := auditOf(t, e, rec.ID); len(ev) != 1 || ev[0] != auditLine(audit.KindDownload, "root") {
		t.Errorf("api cast audit: %v", ev)
	}
}

func TestTokenDiesWithOwner(t *testing.T) {
	e := newEnv(t, nil)
	e.addAccount("dave", store.RoleAdmin)
	secret, tok := NewAPIToken()
	tok.Owner, tok.Name = "dave", "ci"
	if err := e.store.PutToken(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.hdr.Set("Authorization", "Bearer "+secret)
	if res, _ := c.get("/api/recordings"); res.StatusCode != 200 {
		t.Fatalf("token: %d", res.StatusCode)
	}
	admin := e.client()
	admin.login("root", testPassword)
	admin.do(http.MethodPost, "/admin/auditors/dave/delete", url.Values{"_csrf": {admin.csrf()}})
	if res, _ := c.get("/api/recordings"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("token of a deleted account: %d", res.StatusCode)
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q", h)
	}
	h2, _ := HashPassword(testPassword)
	if h == h2 {
		t.Error("two hashes of one password are equal (no salt?)")
	}
	if !CheckPassword(h, testPassword) || CheckPassword(h, testPassword+" ") || CheckPassword("", "") || CheckPassword("$argon2id$v=19$m=999999999,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "x") {
		t.Error("CheckPassword")
	}
	// bcrypt hashes (made by other tools) are accepted.
	bc, err := bcrypt.GenerateFromPassword([]byte("U*U"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(string(bc), "U*U") || CheckPassword(string(bc), "U*V") {
		t.Error("bcrypt")
	}
	secret, tok := NewAPIToken()
	if !strings.HasPrefix(secret, "jct_") || tok.Hash != TokenHash(secret) || strings.Contains(tok.Hash, secret) || len(tok.ID) != 16 {
		t.Errorf("token %q %+v", secret, tok)
	}
}

// TestUnknownNameCostsAHashCheck: the hash a login naming no account is
// checked against has HashPassword's parameters (so that a wrong name
// costs as much time as a wrong password), matches nothing, and a new
// Server does not run argon2 to make it (its 19 MiB would stay in the
// process's memory from the start).
func TestUnknownNameCostsAHashCheck(t *testing.T) {
	e := newEnv(t, nil)
	real, _ := HashPassword(testPassword)
	pr, _, _, err := parseArgon2id(real)
	if err != nil {
		t.Fatal(err)
	}
	pd, salt, key, err := parseArgon2id(e.srv.dummyHash)
	if err != nil || pd != pr || len(salt) != argonSaltLen || len(key) != argonKeyLen {
		t.Fatalf("dummy hash %q: %+v against %+v (%v)", e.srv.dummyHash, pd, pr, err)
	}
	for _, pw := range []string{"", testPassword, "jumpcast-no-such-account"} {
		if CheckPassword(e.srv.dummyHash, pw) {
			t.Errorf("the dummy hash matches %q", pw)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := New(e.srv.o); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("a new Server allocated %d MiB", grew>>20)
	}
}

// TestCheckNewPassword is the password rule, the same for the admin page
// and `jumpcast auditor add`: at least 15 characters (code points, not
// bytes), at most 1024 bytes, no composition rules.
func TestCheckNewPassword(t *testing.T) {
	for _, tc := range []struct {
		name, pw string
		want     string // "" = accepted
	}{
		{"empty", "", "the password has 0 characters; it needs at least 15 (a few words make one)"},
		{"the CLI's old minimum", "0123456789", "the password has 10 characters; it needs at least 15 (a few words make one)"},
		{"one short", "fourteen chars", "the password has 14 characters; it needs at least 15 (a few words make one)"},
		{"exactly 15", "fifteen chars!!", ""},
		{"a few words", "correct horse battery", ""},
		{"14 two-byte characters are 14, not 28", strings.Repeat("é", 14), "the password has 14 characters; it needs at least 15 (a few words make one)"},
		{"15 two-byte characters", strings.Repeat("é", 15), ""},
		{"15 emoji", strings.Repeat("🔑", 15), ""},
		{"only lower-case letters", "aaaaaaaaaaaaaaaaaaaa", ""},
		{"1024 bytes", strings.Repeat("x", 1024), ""},
		{"1025 bytes", strings.Repeat("x", 1025), "the password has 1025 bytes; at most 1024 are accepted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckNewPassword(tc.pw)
			if got := fmt.Sprint(err); tc.want == "" && err != nil || tc.want != "" && got != tc.want {
				t.Errorf("CheckNewPassword(%q) = %v, want %q", tc.pw, err, tc.want)
			}
			if _, herr := HashPassword(tc.pw); fmt.Sprint(herr) != fmt.Sprint(err) {
				t.Errorf("HashPassword applies another rule: %v, CheckNewPassword %v", herr, err)
			}
		})
	}
}

// TestAdminFormPasswordRule: the admin page refuses a short password with
// the rule's message and the form says how long one must be.
func TestAdminFormPasswordRule(t *testing.T) {
	e := newEnv(t, nil)
	admin := e.client()
	admin.login("root", testPassword)
	res, body := admin.do(http.MethodPost, "/admin/auditors", url.Values{"_csrf": {admin.csrf()}, "name": {"erin"}, "password": {"fourteen chars"}, "role": {"auditor"}})
	if want := "The password has 14 characters; it needs at least 15 (a few words make one)."; res.StatusCode != http.StatusBadRequest || !strings.Contains(body, want) {
		t.Errorf("14-character password: %d, want 400 with %q", res.StatusCode, want)
	}
	if _, err := e.store.GetAccount(t.Context(), "erin"); err == nil {
		t.Error("the account was made with a short password")
	}
	if !strings.Contains(body, `minlength="15"`) || !strings.Contains(body, "Password (15+ characters)") {
		t.Error("the form does not say the minimum length")
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client()
	c.get("/login")
	big := url.Values{"name": {strings.Repeat("a", 100<<10)}}
	res, _ := c.do(http.MethodPost, "/login", big)
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("100 KiB login form: %d, want 413", res.StatusCode)
	}
}
