package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults, documented on the fields they fill.
const (
	DefaultDataDir            = "./data"
	DefaultSSHListen          = ":2222"
	DefaultWebListen          = "127.0.0.1:8080"
	DefaultHandshakeTimeout   = 20 * time.Second
	DefaultMaxUnauthenticated = 64
	DefaultMaxAuthFailures    = 10
	DefaultAuthFailureWindow  = time.Minute
	DefaultMaxChannels        = 10
	DefaultSyslogQueue        = 10000 // log.syslog.queue
	DefaultShutdownGrace      = 10 * time.Second
	DefaultSessionTTL         = 12 * time.Hour
	DefaultTerminalFresh      = 15 * time.Minute // web.terminal.fresh_login
	DefaultTerminalSessions   = 3                // web.terminal.max_sessions
	DefaultTerminalIdle       = 15 * time.Minute // web.terminal.idle_timeout
	DefaultMinFreeSpace       = 256 << 20
	DefaultFlushInterval      = 500 * time.Millisecond
	DefaultArchiveAfter       = "1h"
	DefaultDialTimeout        = 10 * time.Second
	DefaultUpstreamHandshake  = 15 * time.Second
	DefaultReuseIdle          = 10 * time.Second
	MaxReuseIdle              = time.Hour
	DefaultChannelWindow      = 2 << 20 // upstream.channel_window
	MinChannelWindow          = 128 << 10
	MaxChannelWindow          = 16 << 20
)

// DefaultEnvAllow is the env allow-list used when ssh.env_allow is empty.
var defaultEnvAllow = []string{"LANG", "LC_*", "TERM", "TZ", "COLORTERM"}

// Default returns the embedded default configuration: no users (nobody can
// log in until one is added), no targets, every default filled in.
func Default() *Config {
	c := &Config{}
	c.presetDefaults()
	c.ApplyDefaults()
	return c
}

// presetDefaults sets the fields whose zero value is a setting of its own
// (false, or 0 meaning off) to their defaults. After decoding, an absent
// key and an explicit false or 0 look the same, so these defaults are set
// before: Parse decodes over them. Rules do the same for their own fields
// in Rule.UnmarshalYAML.
func (c *Config) presetDefaults() {
	c.Upstream.PasswordAuth = true
	c.Upstream.ReuseIdle = DefaultReuseIdle
	c.Log.Audit = true
}

// ApplyDefaults fills every zero optional field whose zero value means
// "use the default" (see the package comment for those where it does not).
// It is idempotent.
func (c *Config) ApplyDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defD := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defI := func(i *int, v int) {
		if *i == 0 {
			*i = v
		}
	}
	def(&c.DataDir, DefaultDataDir)
	def(&c.Store.Driver, DriverBbolt)
	defD(&c.Cluster.Heartbeat, DefaultHeartbeat)
	def(&c.SSH.Listen, DefaultSSHListen)
	defD(&c.SSH.HandshakeTimeout, DefaultHandshakeTimeout)
	defI(&c.SSH.MaxUnauthenticated, DefaultMaxUnauthenticated)
	defI(&c.SSH.MaxAuthFailures, DefaultMaxAuthFailures)
	defD(&c.SSH.AuthFailureWindow, DefaultAuthFailureWindow)
	defI(&c.SSH.MaxChannelsPerConnection, DefaultMaxChannels)
	defI(&c.Log.Syslog.Queue, DefaultSyslogQueue)
	if len(c.SSH.EnvAllow) == 0 {
		c.SSH.EnvAllow = append([]string(nil), defaultEnvAllow...)
	}
	defD(&c.SSH.ShutdownGrace, DefaultShutdownGrace)
	def(&c.Web.Listen, DefaultWebListen)
	defD(&c.Web.SessionTTL, DefaultSessionTTL)
	defD(&c.Web.Terminal.FreshLogin, DefaultTerminalFresh)
	defI(&c.Web.Terminal.MaxSessions, DefaultTerminalSessions)
	defD(&c.Web.Terminal.IdleTimeout, DefaultTerminalIdle)
	if o := c.Web.OIDC; o != nil {
		def(&o.Name, "single sign-on")
		def(&o.RoleClaim, "groups")
		def(&o.UserClaim, "preferred_username")
		if len(o.Scopes) == 0 {
			o.Scopes = []string{"profile", "email"}
		}
	}
	if c.Recording.Input == "" {
		c.Recording.Input = InputAuto
	}
	def(&c.Recording.OnFailure, FailClosed)
	if c.Upstream.ChannelWindow == 0 {
		c.Upstream.ChannelWindow = DefaultChannelWindow
	}
	def(&c.Recording.Format, FormatCompressed)
	def(&c.Recording.ArchiveAfter, DefaultArchiveAfter)
	if c.Recording.MinFreeSpace == 0 {
		c.Recording.MinFreeSpace = DefaultMinFreeSpace
	}
	defD(&c.Recording.FlushInterval, DefaultFlushInterval)
	c.applyStorageDefaults()
	def(&c.Upstream.HostKeyPolicy, HostKeyTOFU)
	defD(&c.Upstream.DialTimeout, DefaultDialTimeout)
	defD(&c.Upstream.HandshakeTimeout, DefaultUpstreamHandshake)
	def(&c.Log.Level, "info")
	def(&c.Log.Format, "auto")
	if c.Users == nil {
		c.Users = map[string]User{}
	}
	if c.Groups == nil {
		c.Groups = map[string]Group{}
	}
	if c.Targets == nil {
		c.Targets = map[string]Target{}
	}
}

// Load reads, decodes, defaults and validates the file at path. Errors name
// the file, the key and its line.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes, defaults and validates YAML data; name is used in errors.
// Unknown keys are errors. Every default is resolved here: the Config it
// returns holds the values in force.
func Parse(data []byte, name string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, cleanYAMLError(err))
	}
	c := &Config{}
	c.presetDefaults()
	if len(bytes.TrimSpace(data)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil {
			return nil, fmt.Errorf("%s: %w", name, unknownKeys(cleanYAMLError(err), &root))
		}
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) && fe.Line == 0 {
			fe.Line = lineOf(&root, fe.Path)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c.Deprecated = deprecated(&root)
	return c, nil
}

// deprecated lists the keys of a decoded document written in an old form
// that still loads (see Config.Deprecated).
func deprecated(root *yaml.Node) []string {
	var notes []string
	if n := nodeAt(root, "recording.input"); n != nil && n.Tag == "!!bool" {
		mode := InputOff
		if b, _ := strconv.ParseBool(n.Value); b {
			mode = InputAll
		}
		notes = append(notes, fmt.Sprintf("line %d: recording.input: %s is deprecated; it means %s (write auto, all or off; the default is auto)",
			n.Line, n.Value, mode))
	}
	return notes
}

// UnmarshalYAML reads an input mode, or a YAML boolean of the files
// written before the modes existed: true as InputAll, false as InputOff.
func (m *InputMode) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		b, err := strconv.ParseBool(n.Value)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		*m = InputOff
		if b {
			*m = InputAll
		}
		return nil
	}
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*m = InputMode(s)
	return nil
}

// UnmarshalYAML decodes a rule over its defaults (AgentAuth and
// AgentForwarding true), so that a rule that leaves them out allows them
// and one that says false does not. It takes the decoder's unmarshal
// function rather than a *yaml.Node: that decodes with the same decoder,
// so unknown keys inside a rule stay errors (Node.Decode would not check
// them).
func (r *Rule) UnmarshalYAML(unmarshal func(any) error) error {
	type plain Rule // the same fields without this method
	p := plain{AgentAuth: true, AgentForwarding: true}
	if err := unmarshal(&p); err != nil {
		return err
	}
	*r = Rule(p)
	return nil
}

// MarshalYAML writes a rule with agent_auth and agent_forwarding only when
// they are false, so that it reads back as itself and a rule with the
// defaults stays as short as one written by hand.
func (r Rule) MarshalYAML() (any, error) {
	type plain Rule // the same fields without this method
	var n yaml.Node
	if err := n.Encode(plain(r)); err != nil {
		return nil, err
	}
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if (k.Value == "agent_auth" || k.Value == "agent_forwarding") && v.Value == "true" {
			continue
		}
		kept = append(kept, k, v)
	}
	n.Content = kept
	return &n, nil
}

// cleanYAMLError turns the library's multi-line "unmarshal errors" into one
// line per problem, keeping the line numbers it reports.
func cleanYAMLError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return errors.New(strings.Join(te.Errors, "; "))
	}
	return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
}

// unknownKeyRE matches the yaml library's unknown-field message, which
// names a Go type ("line 3: field lisen not found in type config.SSH").
var unknownKeyRE = regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)

// unknownKeys rewrites unknown-field messages with the key's dotted path
// in the file ("line 3: unknown key ssh.lisen"), which is what the person
// editing it can act on.
func unknownKeys(err error, root *yaml.Node) error {
	msg := unknownKeyRE.ReplaceAllStringFunc(err.Error(), func(m string) string {
		sub := unknownKeyRE.FindStringSubmatch(m)
		line, _ := strconv.Atoi(sub[1])
		path := keyPath(root, line, sub[2], "")
		if path == "" {
			path = sub[2]
		}
		return "line " + sub[1] + ": unknown key " + path
	})
	return errors.New(msg)
}

// keyPath returns the dotted path of the mapping key named key on line,
// searching the tree below n, or "".
func keyPath(n *yaml.Node, line int, key, prefix string) string {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if p := keyPath(c, line, key, prefix); p != "" {
				return p
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			p := k.Value
			if prefix != "" {
				p = prefix + "." + k.Value
			}
			if k.Line == line && k.Value == key {
				return p
			}
			if found := keyPath(n.Content[i+1], line, key, p); found != "" {
				return found
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if found := keyPath(c, line, key, prefix+"."+strconv.Itoa(i)); found != "" {
				return found
			}
		}
	}
	return ""
}

// lineOf finds the line of the key at a dotted path ("users.alice.keys") in
// a decoded document, or 0 when it is not there.
func lineOf(root *yaml.Node, path string) int {
	line, _ := walk(root, path)
	return line
}

// nodeAt returns the value at a dotted path of a decoded document, or nil.
func nodeAt(root *yaml.Node, path string) *yaml.Node {
	_, n := walk(root, path)
	return n
}

// walk follows a dotted path through a decoded document. It returns the
// line of the deepest key (or sequence item) on the path that it found,
// and the value at the end of the path, nil when the path is not all there.
func walk(root *yaml.Node, path string) (int, *yaml.Node) {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, part := range strings.Split(path, ".") {
		if n == nil {
			return line, nil
		}
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == part {
					line = n.Content[i].Line
					next = n.Content[i+1]
					break
				}
			}
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(n.Content) {
				return line, nil
			}
			n = n.Content[i]
			line = n.Line
		default:
			return line, nil
		}
	}
	return line, n
}

// FieldError is a validation error about one key.
type FieldError struct {
	Path string // dotted key path, e.g. "users.alice.allow.0.as"
	Line int    // 1-based line in the file, 0 when unknown
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Path, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// MemoryBudget is memory_budget: auto (the zero value), off, or a size.
type MemoryBudget struct {
	Off   bool
	Fixed ByteSize // > 0: a fixed limit
}

// The words memory_budget takes besides a size.
const (
	MemoryBudgetAuto = "auto"
	MemoryBudgetOff  = "off"
)

// MinMemoryBudget is the smallest fixed memory_budget: below it the
// collector would run all the time.
const MinMemoryBudget = 32 << 20

// The automatic memory budget: AutoMemoryBase plus AutoMemoryPerSession
// for each open session channel. An idle shell holds about 150 KB; what
// busy sessions hold of their peers' data is bounded by the window pool
// (DefaultWindowPool, within the base) and 64 KiB per channel; the
// collector keeps the heap near what is live instead of letting it double
// (GOGC=100).
const (
	AutoMemoryBase       = 32 << 20
	AutoMemoryPerSession = 128 << 10
)

// The window pool: receive-window credit that every session channel, to
// the targets and from the admins, takes from to grow its window past
// 64 KiB, up to upstream.channel_window (or 2 MiB from the admins). It
// bounds what all busy sessions together hold of data that arrived faster
// than it could be passed on: 64 KiB each plus the pool.
const (
	DefaultWindowPool = 8 << 20  // with memory_budget auto or off
	MinWindowPool     = 4 << 20  // with a fixed memory_budget: an eighth of it, within these
	MaxWindowPool     = 64 << 20 //
)

// WindowPool is the window pool's size for this memory_budget.
func (m MemoryBudget) WindowPool() int64 {
	if m.Fixed > 0 {
		return min(max(int64(m.Fixed)/8, MinWindowPool), MaxWindowPool)
	}
	return DefaultWindowPool
}

// AutoMemoryBudget is the automatic budget with sessions open, capped at
// nine tenths of ceiling (the cgroup's memory.max; 0 for none) when that
// is lower.
func AutoMemoryBudget(sessions int, ceiling int64) int64 {
	b := int64(AutoMemoryBase) + int64(sessions)*AutoMemoryPerSession
	if ceiling > 0 {
		b = min(b, ceiling/10*9)
	}
	return b
}

// UnmarshalYAML reads auto, off or a size.
func (m *MemoryBudget) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case MemoryBudgetAuto, "":
		*m = MemoryBudget{}
		return nil
	case MemoryBudgetOff:
		*m = MemoryBudget{Off: true}
		return nil
	}
	b, err := ParseByteSize(s)
	if err != nil {
		return fmt.Errorf("line %d: memory_budget: want auto, off or a size: %w", n.Line, err)
	}
	*m = MemoryBudget{Fixed: b}
	return nil
}

// MarshalYAML writes it as the file spells it.
func (m MemoryBudget) MarshalYAML() (any, error) {
	return m.String(), nil
}

func (m MemoryBudget) String() string {
	switch {
	case m.Off:
		return MemoryBudgetOff
	case m.Fixed > 0:
		return m.Fixed.String()
	}
	return MemoryBudgetAuto
}

// ByteSize is a size in bytes that YAML may spell as a number or with a
// unit: 512MiB, 1GB, 10G, 4096.
type ByteSize int64

// UnmarshalYAML accepts an integer or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// ParseByteSize parses "512MiB", "1GB", "10G", "4096".
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size %q (want e.g. 512MiB, 1GB)", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kb": 1e3, "kib": 1 << 10,
		"m": 1 << 20, "mb": 1e6, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1e9, "gib": 1 << 30,
		"t": 1 << 40, "tb": 1e12, "tib": 1 << 40,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("invalid size unit %q in %q", unit, s)
	}
	return ByteSize(f * mult), nil
}

func (b ByteSize) String() string {
	switch {
	case b >= 1<<30 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", b>>30)
	case b >= 1<<20 && b%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", b>>20)
	case b >= 1<<10 && b%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", b>>10)
	}
	return strconv.FormatInt(int64(b), 10)
}
