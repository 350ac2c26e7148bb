package config

import (
	"errors"
	"fmt"
	"net"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// nameRE is what user, group and target alias names may look like: they
// appear in login names (root@db1), so '@', '+', ':' and spaces are out.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)

// Validate checks every field and returns the first problem as a
// *FieldError naming the key. It expects ApplyDefaults to have run.
func (c *Config) Validate() error {
	bad := func(p, format string, a ...any) error {
		return &FieldError{Path: p, Msg: fmt.Sprintf(format, a...)}
	}
	if c.DataDir == "" {
		return bad("data_dir", "must not be empty")
	}
	switch c.Store.Driver {
	case DriverBbolt:
		if c.Store.DSN != "" {
			return bad("store.dsn", "is only for store.driver %s", DriverPostgres)
		}
	case DriverPostgres: // an empty dsn may still come from the environment (StoreDSNEnv)
	default:
		return bad("store.driver", "%q (want %s or %s)", c.Store.Driver, DriverBbolt, DriverPostgres)
	}
	if err := c.validateCluster(); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(c.SSH.Listen); err != nil {
		return bad("ssh.listen", "%q is not host:port", c.SSH.Listen)
	}
	for i, k := range c.SSH.UserCAKeys {
		if _, _, _, _, err := gossh.ParseAuthorizedKey([]byte(k)); err != nil {
			return bad(fmt.Sprintf("ssh.user_ca_keys.%d", i), "not a public key: %v", err)
		}
	}
	for i, k := range c.SSH.RevokedKeys {
		if _, _, _, _, err := gossh.ParseAuthorizedKey([]byte(k)); err != nil {
			return bad(fmt.Sprintf("ssh.revoked_keys.%d", i), "not a public key: %v", err)
		}
	}
	if err := checkBanner(c.SSH.Banner); err != nil {
		return bad("ssh.banner", "%v", err)
	}
	if c.SSH.HandshakeTimeout < 0 || c.SSH.IdleTimeout < 0 || c.SSH.ShutdownGrace < 0 {
		return bad("ssh", "timeouts must not be negative")
	}
	if c.SSH.MaxUnauthenticated < 1 {
		return bad("ssh.max_unauthenticated", "must be at least 1")
	}
	if c.SSH.MaxChannelsPerConnection < 1 {
		return bad("ssh.max_channels_per_connection", "must be at least 1")
	}
	for i, g := range c.SSH.EnvAllow {
		if _, err := path.Match(g, "X"); err != nil {
			return bad(fmt.Sprintf("ssh.env_allow.%d", i), "bad pattern %q", g)
		}
	}
	if c.Web.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Web.Listen); err != nil {
			return bad("web.listen", "%q is not host:port", c.Web.Listen)
		}
	}
	if t := c.Web.Terminal; t.FreshLogin < 0 || t.IdleTimeout < 0 || t.MaxSessions < 0 {
		return bad("web.terminal", "limits must not be negative")
	}
	if (c.Web.TLSCert == "") != (c.Web.TLSKey == "") {
		return bad("web.tls_cert", "tls_cert and tls_key must be set together")
	}
	if err := c.validateWeb(); err != nil {
		return err
	}
	for key, cidrs := range map[string][]string{"web.trusted_proxies": c.Web.TrustedProxies,
		"web.proxy_protocol_from": c.Web.ProxyProtocolFrom, "ssh.proxy_protocol_from": c.SSH.ProxyProtocolFrom} {
		for i, cidr := range cidrs {
			if _, _, err := net.ParseCIDR(cidr); err != nil {
				return bad(fmt.Sprintf("%s.%d", key, i), "%q is not a CIDR", cidr)
			}
		}
	}
	switch c.Recording.Input {
	case InputAuto, InputAll, InputOff:
	default:
		return bad("recording.input", "%q: want %s, %s or %s", c.Recording.Input, InputAuto, InputAll, InputOff)
	}
	switch c.Recording.Format {
	case FormatCompressed, FormatRaw:
	default:
		return bad("recording.format", "%q: want %s or %s", c.Recording.Format, FormatCompressed, FormatRaw)
	}
	switch c.Recording.OnFailure {
	case FailClosed, FailOpen:
	default:
		return bad("recording.on_failure", "%q: want %s or %s", c.Recording.OnFailure, FailClosed, FailOpen)
	}
	if c.Recording.FlushInterval < 0 || c.Recording.FlushInterval > recording.MaxFlushInterval {
		return bad("recording.flush_interval", "must be between 0 and %v", recording.MaxFlushInterval)
	}
	if err := c.validateStorage(); err != nil {
		return err
	}
	if d, err := time.ParseDuration(c.Recording.ArchiveAfter); c.Recording.ArchiveAfter != ArchiveOff && (err != nil || d < 0) {
		return bad("recording.archive_after", "%q: want a duration such as 1h or 24h, or %s", c.Recording.ArchiveAfter, ArchiveOff)
	}
	if c.Recording.MaxAge < 0 || c.Recording.MaxTotalSize < 0 {
		return bad("recording", "retention limits must not be negative")
	}
	switch c.Upstream.HostKeyPolicy {
	case HostKeyTOFU, HostKeyStrict:
	default:
		return bad("upstream.host_key_policy", "%q: want %s or %s", c.Upstream.HostKeyPolicy, HostKeyTOFU, HostKeyStrict)
	}
	if c.Upstream.ReuseIdle < 0 || c.Upstream.ReuseIdle > MaxReuseIdle {
		return bad("upstream.reuse_idle", "%s: want 0 (off) up to %s", c.Upstream.ReuseIdle, MaxReuseIdle)
	}
	if b := c.MemoryBudget.Fixed; b != 0 && b < MinMemoryBudget {
		return bad("memory_budget", "%s: want auto, off, or at least %dMiB", b, MinMemoryBudget>>20)
	}
	if w := c.Upstream.ChannelWindow; w < MinChannelWindow || w > MaxChannelWindow {
		return bad("upstream.channel_window", "%d bytes: want %dKiB to %dMiB", int64(w), MinChannelWindow>>10, MaxChannelWindow>>20)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	if a := c.Log.Syslog.Address; a != "" {
		network, hostport, ok := strings.Cut(a, "://")
		if _, _, err := net.SplitHostPort(hostport); !ok || (network != "tcp" && network != "tls") || err != nil {
			return bad("log.syslog.address", "%q: want tcp://host:port or tls://host:port", a)
		}
	}
	if c.Log.Syslog.Queue < 0 {
		return bad("log.syslog.queue", "must not be negative")
	}
	switch c.Log.Format {
	case "auto", "json", "text":
	default:
		return bad("log.format", "%q: want auto, json or text", c.Log.Format)
	}
	if err := c.validateMetrics(); err != nil {
		return err
	}
	for _, name := range sortedKeys(c.Targets) {
		if err := c.validateTarget(name, c.Targets[name]); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(c.Groups) {
		if !nameRE.MatchString(name) {
			return bad("groups."+name, "invalid group name")
		}
		if err := validateRules("groups."+name+".allow", c.Groups[name].Allow); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(c.Users) {
		if err := c.validateUser(name, c.Users[name]); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateMetrics() error {
	l := c.Metrics.Listen
	if l == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(l)
	if err != nil {
		return &FieldError{Path: "metrics.listen", Msg: fmt.Sprintf("%q is not host:port", l)}
	}
	if port != "0" && (l == c.Web.Listen || l == c.SSH.Listen) {
		return &FieldError{Path: "metrics.listen", Msg: fmt.Sprintf("%q is already ssh.listen or web.listen", l)}
	}
	return nil
}

func (c *Config) validateTarget(name string, t Target) error {
	p := "targets." + name
	if !nameRE.MatchString(name) {
		return &FieldError{Path: p, Msg: "invalid alias (letters, digits, '.', '_', '-')"}
	}
	if _, _, err := SplitHostPortDefault(t.Address, 22); err != nil {
		return &FieldError{Path: p + ".address", Msg: err.Error()}
	}
	for i, k := range t.HostKeys {
		if _, _, _, _, err := gossh.ParseAuthorizedKey([]byte(k)); err != nil {
			return &FieldError{Path: fmt.Sprintf("%s.host_keys.%d", p, i), Msg: "not a public key: " + err.Error()}
		}
	}
	return nil
}

func (c *Config) validateUser(name string, u User) error {
	p := "users." + name
	if !nameRE.MatchString(name) {
		return &FieldError{Path: p, Msg: "invalid user name (letters, digits, '.', '_', '-')"}
	}
	for i, k := range u.Keys {
		if _, _, _, _, err := gossh.ParseAuthorizedKey([]byte(k)); err != nil {
			return &FieldError{Path: fmt.Sprintf("%s.keys.%d", p, i), Msg: "not a public key: " + err.Error()}
		}
	}
	for i, g := range u.Groups {
		if _, ok := c.Groups[g]; !ok {
			return &FieldError{Path: fmt.Sprintf("%s.groups.%d", p, i), Msg: fmt.Sprintf("no group %q", g)}
		}
	}
	return validateRules(p+".allow", u.Allow)
}

func validateRules(p string, rules []Rule) error {
	for i, r := range rules {
		rp := fmt.Sprintf("%s.%d", p, i)
		if len(r.Targets) == 0 && len(r.Hosts) == 0 {
			return &FieldError{Path: rp, Msg: "a rule needs targets or hosts"}
		}
		if len(r.As) == 0 {
			return &FieldError{Path: rp + ".as", Msg: "a rule needs at least one remote user"}
		}
		for _, list := range [][]string{r.Targets, r.Hosts, r.As} {
			for _, g := range list {
				if _, err := path.Match(g, "x"); err != nil || g == "" {
					return &FieldError{Path: rp, Msg: fmt.Sprintf("bad pattern %q", g)}
				}
			}
		}
	}
	return nil
}

// SplitHostPortDefault splits "host", "host:port", "[v6]:port" or a bare
// IPv6 address, using defPort when none is given.
func SplitHostPortDefault(addr string, defPort int) (string, int, error) {
	if addr == "" {
		return "", 0, fmt.Errorf("address is empty")
	}
	if ip := net.ParseIP(addr); ip != nil {
		return addr, defPort, nil
	}
	host, portS, err := net.SplitHostPort(addr)
	if err != nil {
		if len(addr) > 1 && addr[0] == '[' && addr[len(addr)-1] == ']' {
			return addr[1 : len(addr)-1], defPort, nil
		}
		// No port at all.
		if _, _, err2 := net.SplitHostPort(addr + ":1"); err2 == nil {
			return addr, defPort, nil
		}
		return "", 0, fmt.Errorf("%q is not host[:port]", addr)
	}
	port, err := strconv.Atoi(portS)
	if err != nil || port < 1 || port > 65535 || host == "" {
		return "", 0, fmt.Errorf("%q is not host[:port]", addr)
	}
	return host, port, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// maxBanner bounds ssh.banner: a notice, not a document.
const maxBanner = 4 << 10

// checkBanner refuses a banner a terminal could be steered by: every
// client prints it raw to stderr.
func checkBanner(b string) error {
	if len(b) > maxBanner {
		return fmt.Errorf("longer than %d bytes", maxBanner)
	}
	if !utf8.ValidString(b) {
		return errors.New("not UTF-8")
	}
	for _, r := range b {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return fmt.Errorf("control character %U (only newline and tab are allowed)", r)
		}
	}
	return nil
}
