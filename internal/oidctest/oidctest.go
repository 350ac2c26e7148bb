// Package oidctest runs a real OpenID provider on loopback for the single
// sign-on tests: zitadel/oidc's example provider (built on the library's
// OpenID-certified op package) with a "groups" claim added, from the
// nested module in opserver/. Build compiles it once into the user's cache
// folder (make test-deps warms it); Start runs it for one test; Login
// drives its own login page with a real HTTP client.
package oidctest

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// ClientID and ClientSecret are the provider's client for jumpcast.
const (
	ClientID     = "web"
	ClientSecret = "secret"
)

// User is one account at the provider.
type User struct {
	ID, Username, Password string
	Groups                 []string
}

// Provider is a running provider.
type Provider struct {
	// Issuer is its issuer URL, http://127.0.0.1:PORT.
	Issuer string
}

// source is the opserver module's folder.
func source() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "opserver")
}

// Build compiles the provider, when its sources changed since the last
// build, into the user's cache folder, and returns the binary's path.
func Build() (string, error) {
	src := source()
	h := sha256.New()
	for _, f := range []string{"main.go", "go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	bin := filepath.Join(cache, "jumpcast-test", "opserver-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the test OpenID provider: %v\n%s", err, out)
	}
	return bin, os.Rename(tmp, bin)
}

// Start runs a provider that knows users and lets the client use
// redirects (jumpcast's callback); it is killed when the test ends. It
// skips the test when the provider cannot be built, or fails it under
// JUMPCAST_REQUIRE_REAL=1.
func Start(t testing.TB, users []User, redirects ...string) *Provider {
	t.Helper()
	bin, err := Build()
	if err != nil {
		if os.Getenv(sshtest.RequireRealEnv) == "1" {
			t.Fatalf("%v (%s=1)", err, sshtest.RequireRealEnv)
		}
		t.Skip(err)
	}
	file := map[string]any{}
	for _, u := range users {
		file[u.ID] = map[string]any{"ID": u.ID, "Username": u.Username, "Password": u.Password,
			"FirstName": u.Username, "LastName": "Test", "Email": u.Username + "@example.test", "EmailVerified": true,
			"PreferredLanguage": "en", "Groups": u.Groups}
	}
	data, _ := json.Marshal(file)
	usersFile := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(usersFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, usersFile, strings.Join(redirects, ","))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("OpenID provider's log:\n%s", stderr.String())
		}
	})
	line := make(chan string, 1)
	go func() { // owns out until the first line
		s := bufio.NewScanner(out)
		s.Scan()
		line <- s.Text()
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case l := <-line:
		issuer, ok := strings.CutPrefix(l, "issuer ")
		if !ok {
			t.Fatalf("OpenID provider: %q; log:\n%s", l, stderr.String())
		}
		return &Provider{Issuer: issuer}
	case <-time.After(30 * time.Second):
		t.Fatalf("OpenID provider did not start; log:\n%s", stderr.String())
	}
	return nil
}

var authRequestID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// Login follows authURL (the site's redirect to the provider) with c,
// fills in the provider's own login page as username with password, and
// returns where the provider sends the browser back (the site's callback
// with code and state), without following it. c must not follow
// redirects itself (CheckRedirect returning http.ErrUseLastResponse).
func (p *Provider) Login(c *http.Client, authURL, username, password string) (*url.URL, error) {
	res, err := p.follow(c, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	m := authRequestID.FindSubmatch(body)
	if res.StatusCode != http.StatusOK || m == nil {
		return nil, fmt.Errorf("provider login page: %s: %.300s", res.Status, body)
	}
	form := url.Values{"id": {string(m[1])}, "username": {username}, "password": {password}}
	res, err = p.follow(c, http.MethodPost, p.Issuer+"/login/username", form)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	loc, err := res.Location()
	if err != nil {
		b, _ := io.ReadAll(res.Body)
		return nil, fmt.Errorf("provider did not send the browser back: %s: %.300s", res.Status, b)
	}
	return loc, nil
}

// follow makes the request and follows redirects while they stay at the
// provider; it returns the first answer that is not such a redirect.
func (p *Provider) follow(c *http.Client, method, u string, form url.Values) (*http.Response, error) {
	for range 10 {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, u, body)
		if err != nil {
			return nil, err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		loc, err := res.Location()
		if err != nil || !strings.HasPrefix(loc.String(), p.Issuer+"/") {
			return res, nil
		}
		_ = res.Body.Close()
		method, u, form = http.MethodGet, loc.String(), nil
	}
	return nil, errors.New("provider: too many redirects")
}
