// Package config owns jumpcast's configuration file: its types, the
// documented defaults, loading from YAML with strict key checking, and
// validation that names the offending key (and its line when the value came
// from a file).
//
// Configuration is plain data: nothing here reads flags or the environment,
// opens sockets or touches the data folder. Every field holds the value in
// force, with its default resolved once, when the file is parsed: callers
// read plain fields and never apply a default themselves.
//
// Where a field's zero value is not a setting of its own, zero means "use
// the default" and ApplyDefaults fills it in. A few fields default to true
// or to a duration where false or 0 means off (upstream.password_auth,
// upstream.reuse_idle, log.audit, a rule's agent_auth and
// agent_forwarding): those defaults are set before decoding (by Parse, and
// for each rule by Rule.UnmarshalYAML), so a key the file leaves out keeps
// its default and a key the file sets wins. Default returns a Config with
// every default filled in; a Config or Rule built in Go code says those
// values itself.
package config

import (
	"os"
	"time"
)

// Config is the whole configuration file.
type Config struct {
	// DataDir holds recordings/, jumpcast.db, the generated host key and the
	// TOFU known_hosts file. Relative paths are relative to the working
	// directory of the process. Default "./data".
	DataDir string `yaml:"data_dir"`

	SSH       SSH       `yaml:"ssh"`
	Store     Store     `yaml:"store"`
	Web       Web       `yaml:"web"`
	Recording Recording `yaml:"recording"`
	Upstream  Upstream  `yaml:"upstream"`
	Log       Log       `yaml:"log"`
	Metrics   Metrics   `yaml:"metrics"`
	Cluster   Cluster   `yaml:"cluster"`

	// MemoryBudget is the Go runtime's soft memory limit for the process:
	// MemoryBudgetAuto (the default) follows the load (see
	// AutoMemoryBudget), MemoryBudgetOff sets none, a size a fixed one. The
	// GOMEMLIMIT environment variable, when set, wins over it.
	MemoryBudget MemoryBudget `yaml:"memory_budget"`

	// Users are the bastion's users, by name. A user not listed here cannot
	// log in (deny by default).
	Users map[string]User `yaml:"users"`
	// Groups are named sets of rules that users join through User.Groups.
	Groups map[string]Group `yaml:"groups,omitempty"`
	// Targets are the hosts admins reach by alias (ssh root@db1@bastion).
	Targets map[string]Target `yaml:"targets"`

	// Deprecated lists the keys of the file that are written in a form
	// still read but no longer documented, one line each naming the key,
	// its line and what to write instead. Parse fills it; "jumpcast config
	// check" prints it and serve logs it. Not part of the file.
	Deprecated []string `yaml:"-"`
}

// SSH configures the listener admins connect to.
type SSH struct {
	// Listen is the TCP address of the SSH listener. Default ":2222".
	Listen string `yaml:"listen"`
	// ProxyProtocolFrom are the CIDRs of TCP load balancers (HAProxy
	// send-proxy / send-proxy-v2): connections from them must start with
	// a PROXY protocol header, which gives the admin's own address;
	// connections from elsewhere are used as they are and may not send
	// one. Default empty: no PROXY protocol.
	ProxyProtocolFrom []string `yaml:"proxy_protocol_from,omitempty"`
	// HostKeys are paths of private host keys. Empty means
	// <data_dir>/ssh_host_ed25519_key, generated once (ed25519, 0600).
	HostKeys []string `yaml:"host_keys"`
	// UserCAKeys are OpenSSH public keys (authorized_keys format) of user
	// certificate authorities. A certificate signed by one of them
	// authenticates the bastion user named by its principal. Empty: no
	// certificates are accepted.
	UserCAKeys []string `yaml:"user_ca_keys"`
	// RevokedKeys are OpenSSH public keys (authorized_keys format) that may
	// never authenticate, like sshd's RevokedKeys: a listed user key is
	// refused even where a user still lists it, and a listed CA key voids
	// every certificate it signed. Reloaded with the rest of the file.
	// Empty: nothing is revoked.
	RevokedKeys []string `yaml:"revoked_keys,omitempty"`
	// Banner is shown by the admin's ssh client before authentication, like
	// sshd's Banner: a system-use notice ("sessions are recorded"). Empty
	// (the default) sends none. At most 4 KiB; no control characters but
	// newline and tab.
	Banner string `yaml:"banner,omitempty"`
	// HandshakeTimeout bounds the time from TCP accept to successful
	// authentication. Default 20s.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	// IdleTimeout closes a connection with no traffic in either direction for
	// this long. Zero disables it. Default 0.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxUnauthenticated caps concurrent connections that have not finished
	// authentication. Default 64.
	MaxUnauthenticated int `yaml:"max_unauthenticated"`
	// MaxAuthFailures is how many failed authentications one source IP may
	// have within AuthFailureWindow before further connections from it are
	// refused until the window passes. Default 10 per 1m.
	MaxAuthFailures   int           `yaml:"max_auth_failures"`
	AuthFailureWindow time.Duration `yaml:"auth_failure_window"`
	// MaxChannelsPerConnection caps concurrently open channels on one client
	// connection. Default 10 (OpenSSH's MaxSessions).
	MaxChannelsPerConnection int `yaml:"max_channels_per_connection"`
	// EnvAllow lists environment variable names (globs) that clients may set
	// on the target with "env" requests. Default LANG, LC_*, TERM, TZ,
	// COLORTERM. LD_* and other loader variables are always refused.
	EnvAllow []string `yaml:"env_allow"`
	// ShutdownGrace is how long open sessions may continue after SIGTERM
	// before they are closed. Default 10s.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
}

// Index drivers (store.driver).
const (
	DriverBbolt    = "bbolt"
	DriverPostgres = "postgres"
)

// StoreDSNEnv is the environment variable the jumpcast command reads
// store.dsn from when the file leaves it empty, so that a password need
// not sit in the file. (Package config itself reads no environment.)
const StoreDSNEnv = "JUMPCAST_STORE_DSN"

// Store chooses the index: the recordings' metadata, audit events,
// accounts, API tokens, locks, pinned host keys and the node registry.
type Store struct {
	// Driver is "bbolt" (default): one file, <data_dir>/jumpcast.db, for
	// one node; or "postgres": a PostgreSQL database that several nodes
	// share.
	Driver string `yaml:"driver"`
	// DSN names the PostgreSQL database (a postgres:// URL or libpq
	// key=value string) with driver postgres; it must be empty with
	// bbolt. Empty in the file means the JUMPCAST_STORE_DSN environment
	// variable (StoreDSNEnv). Never logged.
	DSN string `yaml:"dsn,omitempty"`
	// NodeID names this node in a shared index: its recordings carry it,
	// the node registry lists it (jumpcast nodes ls), and after a crash
	// the node closes only its own recordings left active. Stable across
	// restarts and unique per node. Empty (the default): the host name,
	// read at start (Config.Node).
	NodeID string `yaml:"node_id,omitempty"`
}

// Node is this node's id: store.node_id, or the host name when that is
// empty.
func (c *Config) Node() string {
	if c.Store.NodeID != "" {
		return c.Store.NodeID
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

// Web configures the auditors' web site.
type Web struct {
	// Listen is the HTTP(S) address. Empty disables the site. Default
	// "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// TLSCert and TLSKey enable HTTPS when both are set.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// TrustedProxies are CIDRs whose X-Forwarded-For header is believed.
	// Empty: the client address is the TCP peer. Default empty.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ProxyProtocolFrom: as ssh.proxy_protocol_from, for the web
	// listener (a TCP balancer in front of the site). Default empty.
	ProxyProtocolFrom []string `yaml:"proxy_protocol_from,omitempty"`
	// SessionTTL is how long an auditor stays logged in. Default 12h.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// OIDC, when set, adds single sign-on through an OpenID provider (a
	// "Log in with NAME" button). Default none.
	OIDC *OIDC `yaml:"oidc,omitempty"`
	// DisablePasswordLogin switches off sign-in with a local account's
	// password, but for the accounts named in BreakGlass. Default false.
	DisablePasswordLogin bool `yaml:"disable_password_login,omitempty"`
	// BreakGlass names the local accounts that may still sign in with a
	// password while DisablePasswordLogin is set (the operator's way in
	// when the provider is down). Default none.
	BreakGlass []string `yaml:"break_glass,omitempty"`
	// PublicURL is the site's address as browsers reach it
	// (https://jumpcast.example.com, no path): passkeys are bound to its
	// host. Empty: no passkeys (authenticator apps still work). Default
	// empty.
	PublicURL string `yaml:"public_url,omitempty"`
	// RequireSecondFactor makes every local account use a second factor
	// (an authenticator app or a passkey): one without is asked to set one
	// up at its next sign-in and reaches nothing else until it has.
	// Default false.
	RequireSecondFactor bool `yaml:"require_second_factor,omitempty"`
	// Terminal sets the limits of the terminal in the browser, which a
	// rule's web_terminal grants (off by default).
	Terminal WebTerminal `yaml:"terminal"`
}

// WebTerminal limits the terminal in the browser. Who may open one is
// policy (allow[].web_terminal); these keys say how.
type WebTerminal struct {
	// FreshLogin is how recent the person's sign-in with a second factor
	// (or single sign-on) must be to open a terminal. Default 15m.
	FreshLogin time.Duration `yaml:"fresh_login"`
	// MaxSessions bounds the terminals one person has open at once.
	// Default 3.
	MaxSessions int `yaml:"max_sessions"`
	// IdleTimeout closes a terminal that received no keystroke or resize
	// for this long. Default 15m.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// OIDC configures single sign-on with an OpenID Connect provider
// (authorization code flow with PKCE). Issuer, ClientID, RedirectURL,
// one of ClientSecretFile and ClientSecretEnv, and Roles are required.
type OIDC struct {
	// Name is what the login button says: "Log in with NAME". Default
	// "single sign-on".
	Name string `yaml:"name"`
	// Issuer is the provider's issuer URL; its discovery document is read
	// from ISSUER/.well-known/openid-configuration.
	Issuer string `yaml:"issuer"`
	// ClientID is this site's client id at the provider.
	ClientID string `yaml:"client_id"`
	// ClientSecretFile is a file holding the client secret (one line);
	// ClientSecretEnv names an environment variable holding it. Exactly
	// one is set; the secret itself never appears in the config or the log.
	ClientSecretFile string `yaml:"client_secret_file,omitempty"`
	ClientSecretEnv  string `yaml:"client_secret_env,omitempty"`
	// RedirectURL is this site's callback as registered at the provider:
	// https://HOST/login/oidc/callback.
	RedirectURL string `yaml:"redirect_url"`
	// Scopes asked for besides "openid". Default [profile, email].
	Scopes []string `yaml:"scopes,omitempty"`
	// RoleClaim is the claim (a list of strings, or one string) whose
	// values Roles maps to a role. Default "groups".
	RoleClaim string `yaml:"role_claim,omitempty"`
	// Roles maps a value of RoleClaim (a group) to a role: admin, auditor
	// or user. Several matching groups give the most privileged role; no
	// matching group refuses the login.
	Roles map[string]string `yaml:"roles"`
	// UserClaim is the claim that names the person; for role user it is
	// their bastion user name, so they see their own sessions. Default
	// "preferred_username".
	UserClaim string `yaml:"user_claim,omitempty"`
	// PostLogoutRedirectURL, when set, is where the provider sends the
	// browser after its own logout (it must be registered there too).
	PostLogoutRedirectURL string `yaml:"post_logout_redirect_url,omitempty"`
}

// Failure policies for recording.
const (
	FailClosed = "fail-closed"
	FailOpen   = "fail-open"
)

// Input recording modes (Recording.Input).
const (
	// InputAuto records the input of sessions without a PTY only: there
	// input is a script, a command stream or a file (ssh -T, ssh host
	// bash < script), while in a PTY session it is keystrokes, which
	// include the passwords typed at sudo's prompt; what a PTY session
	// types is in its output already, as the terminal's echo.
	InputAuto InputMode = "auto"
	InputAll  InputMode = "all" // record the input of every session
	InputOff  InputMode = "off" // record no input
)

// InputMode says which sessions have their input recorded as "i" events:
// InputAuto, InputAll or InputOff. The YAML booleans of older files still
// load (true as InputAll, false as InputOff) and are reported in
// Config.Deprecated.
type InputMode string

// Records reports whether a session's input is recorded under m; pty is
// whether the session has a PTY.
func (m InputMode) Records(pty bool) bool {
	switch m {
	case InputAll:
		return true
	case InputAuto:
		return !pty
	}
	return false
}

// Recording configures what is recorded and what happens when it cannot be.
type Recording struct {
	// Input says which sessions' input is recorded as "i" events.
	// Default InputAuto: sessions without a PTY. Each session takes it
	// when it starts; a reload applies to sessions that start afterwards.
	Input InputMode `yaml:"input"`
	// OnFailure is FailClosed (default: refuse or end the session) or
	// FailOpen (go on, audit the failure).
	OnFailure string `yaml:"on_failure"`
	// MinFreeSpace refuses new sessions (under fail-closed) when the
	// recordings folder's file system has less free space. Default 256MiB.
	MinFreeSpace ByteSize `yaml:"min_free_space"`
	// FlushInterval bounds how long recorded output may sit in memory
	// before it reaches the file. Default 500ms, so that a crash keeps
	// everything older than a second even with timer delay; at most 1s.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// Format is FormatCompressed (default: gzip chunks with an index of
	// keyframes, recorder/castfile) or FormatRaw (plain .cast files, as
	// before; kept for the benchmark that compares the two).
	Format string `yaml:"format"`
	// ArchiveAfter is how long after a recording ends `serve` archives it
	// (recorder.Dir.Archive: zstd at its best level, at nice 19): a Go
	// duration, or "off". Default DefaultArchiveAfter. With Storage s3 a
	// recording is archived just before its upload instead, unless "off".
	// See ArchiveDelay and ArchiveBeforeUpload.
	ArchiveAfter string `yaml:"archive_after"`
	// MaxAge removes recordings older than this. Zero keeps them forever.
	MaxAge time.Duration `yaml:"max_age"`
	// MaxTotalSize removes the oldest recordings while all of them together
	// are larger. Zero means no limit.
	MaxTotalSize ByteSize `yaml:"max_total_size"`
	// Storage is where finished recordings live: StorageLocal (default,
	// the recordings folder) or StorageS3 (the bucket S3 names; the
	// recordings folder is then the node's spool).
	Storage string `yaml:"storage"`
	// S3 is the bucket, with Storage s3.
	S3 S3 `yaml:"s3"`
}

// ArchiveDelay returns ArchiveAfter as a duration, and false when it is
// "off" or recordings go to a bucket (nothing is archived then).
func (r Recording) ArchiveDelay() (time.Duration, bool) {
	if r.ArchiveAfter == ArchiveOff || r.Storage == StorageS3 {
		return 0, false
	}
	d, err := time.ParseDuration(r.ArchiveAfter)
	return d, err == nil && d >= 0
}

// ArchiveBeforeUpload reports whether recordings are archived on the node
// before they go to the bucket (Storage s3, ArchiveAfter not "off").
func (r Recording) ArchiveBeforeUpload() bool {
	return r.Storage == StorageS3 && r.ArchiveAfter != ArchiveOff
}

// ArchiveOff is the recording.archive_after that archives nothing.
const ArchiveOff = "off"

// Recording formats (Recording.Format).
const (
	FormatCompressed = "compressed"
	FormatRaw        = "raw"
)

// Host key policies for upstream targets.
const (
	HostKeyTOFU   = "tofu"
	HostKeyStrict = "strict"
)

// Upstream configures how the bastion connects to targets.
type Upstream struct {
	// HostKeyPolicy is HostKeyTOFU (default: pin the first key seen in
	// the index) or HostKeyStrict (only keys in KnownHosts and
	// in the target's HostKeys are accepted).
	HostKeyPolicy string `yaml:"host_key_policy"`
	// KnownHosts are extra OpenSSH known_hosts files, read-only.
	KnownHosts []string `yaml:"known_hosts"`
	// IdentityFiles are bastion-held private keys, tried after the admin's
	// forwarded agent.
	IdentityFiles []string `yaml:"identity_files"`
	// DialTimeout bounds the TCP connect. Default 10s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// HandshakeTimeout bounds the SSH handshake and authentication with the
	// target. Default 15s.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	// PasswordAuth relays password and keyboard-interactive prompts to the
	// admin's terminal when key authentication fails. Default true (set by
	// Parse and Default).
	PasswordAuth bool `yaml:"password_auth"`
	// ReuseIdle keeps a target connection open this long after the admin
	// connection that made it ends, so the same bastion user's next
	// connection to the same address as the same remote user takes it over
	// instead of connecting and authenticating again (OpenSSH's
	// ControlPersist, on the bastion). Only connections authenticated with
	// bastion-held keys are kept, never ones that used the admin's agent
	// or a relayed password. Default 10s (set by Parse and Default); 0
	// turns reuse off.
	ReuseIdle time.Duration `yaml:"reuse_idle"`
	// ChannelWindow is the largest receive window the bastion offers the
	// target on a session channel: how much of a target's output the
	// bastion may hold for one session before the admin's client takes
	// it. Past 64 KiB a channel's window grows with credit from the window
	// pool that all sessions share (MemoryBudget.WindowPool), so busy
	// sessions together hold at most 64 KiB each plus the pool. Default
	// DefaultChannelWindow; MinChannelWindow to MaxChannelWindow.
	ChannelWindow ByteSize `yaml:"channel_window"`
}

// Log configures structured logging.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is json, text or auto (text on a terminal). Default auto.
	Format string `yaml:"format"`
	// Audit writes every audit event to the log as well, one "audit" line
	// each, so that a log shipped off the bastion is a copy of the audit
	// trail. Default true (set by Parse and Default).
	Audit bool `yaml:"audit"`
	// Syslog sends a copy of every audit event to a SIEM's syslog
	// collector. Empty address: off.
	Syslog Syslog `yaml:"syslog,omitempty"`
}

// Syslog is the audit trail's copy sent as RFC 5424 syslog over TCP or
// TLS (internal/auditsyslog states the delivery guarantees).
type Syslog struct {
	// Address is "tcp://host:port" or "tls://host:port". Empty: off.
	Address string `yaml:"address"`
	// CAFile is a PEM file of the authorities a tls:// collector's
	// certificate is checked against. Empty: the system's.
	CAFile string `yaml:"ca_file,omitempty"`
	// Queue bounds the events waiting while the collector is unreachable;
	// when full the oldest is dropped from the syslog copy (the index keeps
	// every event). Default 10000.
	Queue int `yaml:"queue,omitempty"`
}

// Metrics configures the optional operations listener. Whatever it says,
// the web site serves /metrics to logged-in auditors and API tokens, and
// /healthz and /readyz to anyone.
type Metrics struct {
	// Listen is a TCP address serving /metrics, /healthz and /readyz with
	// NO authentication, for a Prometheus scraper or a load balancer on
	// loopback or a private network. Empty (the default) disables it.
	Listen string `yaml:"listen"`
}

// User is one bastion user.
type User struct {
	// Keys are public keys in authorized_keys format.
	Keys []string `yaml:"keys,omitempty"`
	// Groups names entries of Config.Groups whose rules apply too.
	Groups []string `yaml:"groups,omitempty"`
	// Allow lists what the user may reach.
	Allow []Rule `yaml:"allow,omitempty"`
}

// Group is a named set of rules.
type Group struct {
	Allow []Rule `yaml:"allow,omitempty"`
}

// Rule allows some targets as some remote users. A session is allowed when
// one rule matches both its target and its remote user.
//
// AgentAuth and AgentForwarding default to true: a rule decoded from YAML
// that leaves them out has them set (Rule.UnmarshalYAML), and a marshalled
// rule writes them only when they are false (Rule.MarshalYAML). A Rule
// literal in Go code has them false unless it says otherwise.
type Rule struct {
	// Targets are globs over target aliases ("db*").
	Targets []string `yaml:"targets,omitempty"`
	// Hosts are globs over raw host names or addresses that are not
	// aliases ("10.0.0.*", "*.internal"). Empty: raw hosts are not allowed.
	Hosts []string `yaml:"hosts,omitempty"`
	// As are globs over remote user names ("root", "deploy", "*").
	As []string `yaml:"as,omitempty"`
	// AgentAuth lets the bastion use the admin's forwarded agent to log in
	// to the target. Default true.
	AgentAuth bool `yaml:"agent_auth"`
	// AgentForwarding passes the admin's agent on to the target session
	// when the admin asked for it (ssh -A). Default true.
	AgentForwarding bool `yaml:"agent_forwarding"`
	// PortForwarding allows direct-tcpip channels (ssh -J, ssh -L) to the
	// matched targets; they cannot be recorded. Default false.
	PortForwarding bool `yaml:"port_forwarding,omitempty"`
	// WebTerminal lets the matched targets and remote users be reached
	// from the terminal page of the web site, by a web account that maps
	// to this user (web.terminal sets its limits). Default false.
	WebTerminal bool `yaml:"web_terminal,omitempty"`
}

// Target is a host reachable by alias.
type Target struct {
	// Address is host:port ("10.0.0.5:22", "[2001:db8::5]:22"); a missing
	// port means 22.
	Address string `yaml:"address,omitempty"`
	// HostKeys are the target's public keys in authorized_keys format; with
	// them set, only they are accepted, whatever HostKeyPolicy says.
	HostKeys []string `yaml:"host_keys,omitempty"`
	// IdentityFiles are bastion-held keys used for this target only, tried
	// before Upstream.IdentityFiles. The proxy reads them when it takes the
	// config (at start and at each reload), never while connecting.
	IdentityFiles []string `yaml:"identity_files,omitempty"`
}
