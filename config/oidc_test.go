package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodOIDC = `web:
  oidc:
    issuer: https://idp.example.com
    client_id: jumpcast
    client_secret_env: JC_TEST_OIDC_SECRET
    redirect_url: https://jc.example.com/login/oidc/callback
    roles: {ops: admin, sec: auditor, eng: user}
`

// TestOIDCConfig: a good web.oidc loads with its defaults, and each
// mistake is refused naming its key.
func TestOIDCConfig(t *testing.T) {
	c, err := Parse([]byte(goodOIDC), "good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	o := c.Web.OIDC
	if o.Name != "single sign-on" || o.RoleClaim != "groups" || o.UserClaim != "preferred_username" || len(o.Scopes) != 2 {
		t.Errorf("defaults: %+v", o)
	}
	t.Setenv("JC_TEST_OIDC_SECRET", "  s3cret\n")
	if s, err := o.ReadSecret(); err != nil || s != "s3cret" {
		t.Errorf("secret from the environment: %q, %v", s, err)
	}
	f := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(f, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o.ClientSecretEnv, o.ClientSecretFile = "", f
	if s, err := o.ReadSecret(); err != nil || s != "from-file" {
		t.Errorf("secret from a file: %q, %v", s, err)
	}
	o.ClientSecretFile = filepath.Join(t.TempDir(), "none")
	if _, err := o.ReadSecret(); err == nil || strings.Contains(err.Error(), "from-file") {
		t.Errorf("missing secret file: %v", err)
	}

	for _, tc := range []struct{ name, edit, want string }{
		{"no issuer", "issuer: https://idp.example.com", "web.oidc.issuer"},
		{"both secrets", "client_secret_env: JC_TEST_OIDC_SECRET", "web.oidc.client_secret_file"},
		{"bad redirect", "redirect_url: https://jc.example.com/login/oidc/callback", "web.oidc.redirect_url"},
		{"bad role", "roles: {ops: admin, sec: auditor, eng: user}", "web.oidc.roles"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repl := map[string]string{
				"no issuer":    "issuer: ''",
				"both secrets": "client_secret_env: X\n    client_secret_file: /x",
				"bad redirect": "redirect_url: https://jc.example.com/callback",
				"bad role":     "roles: {ops: root}",
			}[tc.name]
			_, err := Parse([]byte(strings.Replace(goodOIDC, tc.edit, repl, 1)), "bad.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
	if _, err := Parse([]byte("web:\n  disable_password_login: true\n"), "x.yaml"); err == nil || !strings.Contains(err.Error(), "nobody could sign in") {
		t.Errorf("passwords off with no way in: %v", err)
	}
}
