package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Web roles an OIDC group may map to (store.RoleAdmin and friends; config
// imports nothing of ours that names them).
var oidcRoles = []string{"admin", "auditor", "user"}

// validateWeb checks the web site's sign-in keys: web.oidc and the
// password-login switch.
func (c *Config) validateWeb() error {
	bad := func(p, format string, a ...any) error {
		return &FieldError{Path: p, Msg: fmt.Sprintf(format, a...)}
	}
	for i, n := range c.Web.BreakGlass {
		if strings.TrimSpace(n) == "" {
			return bad(fmt.Sprintf("web.break_glass.%d", i), "empty account name")
		}
	}
	if len(c.Web.BreakGlass) > 0 && !c.Web.DisablePasswordLogin {
		return bad("web.break_glass", "is only for web.disable_password_login: true")
	}
	if c.Web.PublicURL != "" {
		if err := checkURL(c.Web.PublicURL); err != nil {
			return bad("web.public_url", "%v", err)
		}
		if u, _ := url.Parse(c.Web.PublicURL); strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
			return bad("web.public_url", "%q: only scheme and host (and port), no path", c.Web.PublicURL)
		}
	}
	o := c.Web.OIDC
	if o == nil {
		if c.Web.DisablePasswordLogin && len(c.Web.BreakGlass) == 0 {
			return bad("web.disable_password_login", "with no web.oidc and no web.break_glass nobody could sign in")
		}
		return nil
	}
	if err := checkURL(o.Issuer); err != nil {
		return bad("web.oidc.issuer", "%v", err)
	}
	if o.ClientID == "" {
		return bad("web.oidc.client_id", "must not be empty")
	}
	if (o.ClientSecretFile == "") == (o.ClientSecretEnv == "") {
		return bad("web.oidc.client_secret_file", "set exactly one of client_secret_file and client_secret_env")
	}
	if err := checkURL(o.RedirectURL); err != nil {
		return bad("web.oidc.redirect_url", "%v", err)
	}
	if !strings.HasSuffix(o.RedirectURL, "/login/oidc/callback") {
		return bad("web.oidc.redirect_url", "%q must end in /login/oidc/callback", o.RedirectURL)
	}
	if o.PostLogoutRedirectURL != "" {
		if err := checkURL(o.PostLogoutRedirectURL); err != nil {
			return bad("web.oidc.post_logout_redirect_url", "%v", err)
		}
	}
	if len(o.Roles) == 0 {
		return bad("web.oidc.roles", "map at least one group to a role (%s)", strings.Join(oidcRoles, ", "))
	}
	for g, r := range o.Roles {
		if g == "" {
			return bad("web.oidc.roles", "empty group name")
		}
		ok := false
		for _, want := range oidcRoles {
			ok = ok || r == want
		}
		if !ok {
			return bad("web.oidc.roles."+g, "role %q (want %s)", r, strings.Join(oidcRoles, ", "))
		}
	}
	return nil
}

// checkURL accepts an absolute http or https URL without a fragment.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || s == "" {
		return fmt.Errorf("%q is not a URL", s)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("%q: want an absolute http(s) URL", s)
	}
	return nil
}

// ReadSecret reads the client secret from the file or environment
// variable o names, trimmed of surrounding white space. The error names
// where it looked, never the secret.
func (o *OIDC) ReadSecret() (string, error) {
	var v string
	if o.ClientSecretFile != "" {
		b, err := os.ReadFile(o.ClientSecretFile)
		if err != nil {
			return "", fmt.Errorf("web.oidc.client_secret_file: %w", err)
		}
		v = string(b)
	} else {
		v = os.Getenv(o.ClientSecretEnv)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", fmt.Errorf("web.oidc: the client secret (%s) is empty", o.secretSource())
	}
	return v, nil
}

func (o *OIDC) secretSource() string {
	if o.ClientSecretFile != "" {
		return "file " + o.ClientSecretFile
	}
	return "environment variable " + o.ClientSecretEnv
}
