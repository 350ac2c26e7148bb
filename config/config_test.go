package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const aliceKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop"

func TestParseDefaults(t *testing.T) {
	c, err := Parse(nil, "empty.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "./data" || c.SSH.Listen != ":2222" || c.Web.Listen != "127.0.0.1:8080" {
		t.Errorf("defaults: data_dir=%q ssh=%q web=%q", c.DataDir, c.SSH.Listen, c.Web.Listen)
	}
	if c.Recording.OnFailure != FailClosed || c.Upstream.HostKeyPolicy != HostKeyTOFU {
		t.Errorf("secure defaults: on_failure=%q host_key_policy=%q", c.Recording.OnFailure, c.Upstream.HostKeyPolicy)
	}
	if len(c.Users) != 0 {
		t.Errorf("default config must let nobody in, has %d users", len(c.Users))
	}
	if c.Recording.FlushInterval != DefaultFlushInterval || c.SSH.HandshakeTimeout != DefaultHandshakeTimeout {
		t.Errorf("timeouts: flush=%v handshake=%v", c.Recording.FlushInterval, c.SSH.HandshakeTimeout)
	}
	if d, on := c.Recording.ArchiveDelay(); !on || d != time.Hour {
		t.Errorf("archive_after by default: %v, %v", d, on)
	}
	for _, r := range []Recording{{ArchiveAfter: ArchiveOff}, {ArchiveAfter: "1h", Storage: StorageS3}} {
		if _, on := r.ArchiveDelay(); on {
			t.Errorf("%+v archives after a delay", r)
		}
	}
	if !(Recording{ArchiveAfter: "1h", Storage: StorageS3}).ArchiveBeforeUpload() ||
		(Recording{ArchiveAfter: ArchiveOff, Storage: StorageS3}).ArchiveBeforeUpload() ||
		(Recording{ArchiveAfter: "1h", Storage: StorageLocal}).ArchiveBeforeUpload() {
		t.Error("ArchiveBeforeUpload: want only with s3 and not off")
	}
}

func TestParseDesignExample(t *testing.T) {
	doc := `
data_dir: ./data
ssh:
  listen: ":2222"
  host_keys: []
web:
  listen: "127.0.0.1:8080"
recording:
  input: false
  on_failure: fail-closed
  min_free_space: 1GiB
  max_age: 2160h
upstream:
  host_key_policy: tofu
  known_hosts: []
  identity_files: []
users:
  alice:
    keys:
      - "` + aliceKey + `"
    allow:
      - targets: ["db*", "web1"]
        as: ["root", "deploy"]
targets:
  db1:
    address: "10.0.0.5:22"
  v6:
    address: "[2001:db8::5]:2222"
`
	c, err := Parse([]byte(doc), "example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Users["alice"].Allow[0].As; len(got) != 2 || got[1] != "deploy" {
		t.Errorf("alice's remote users = %v", got)
	}
	if c.Recording.MinFreeSpace != 1<<30 || c.Recording.MaxAge != 2160*time.Hour {
		t.Errorf("min_free_space=%v max_age=%v", c.Recording.MinFreeSpace, c.Recording.MaxAge)
	}
}

func TestParseErrorsNameKeyAndLine(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"unknown key", "ssh:\n  lissten: x\n", []string{"line 2: unknown key ssh.lissten"}},
		{"unknown key in a list", "users:\n  bob:\n    allow:\n      - as: [root]\n        targetz: [db1]\n", []string{"line 5: unknown key users.bob.allow.0.targetz"}},
		{"bad policy", "recording:\n  on_failure: maybe\n", []string{"line 2", "recording.on_failure", "maybe"}},
		{"bad host key policy", "upstream:\n  host_key_policy: yolo\n", []string{"line 2", "upstream.host_key_policy"}},
		{"negative reuse idle", "upstream:\n  reuse_idle: -1s\n", []string{"line 2", "upstream.reuse_idle", "0 (off)"}},
		{"reuse idle too long", "upstream:\n  reuse_idle: 2h\n", []string{"line 2", "upstream.reuse_idle"}},
		{"bad size", "recording:\n  min_free_space: 12XB\n", []string{"line 2", "12XB"}},
		{"bad duration", "ssh:\n  handshake_timeout: soon\n", []string{"line 2", "soon"}},
		{"bad key", "users:\n  bob:\n    keys: [\"ssh-rsa nope\"]\n", []string{"line 3", "users.bob.keys.0", "not a public key"}},
		{"rule without as", "users:\n  bob:\n    allow:\n      - targets: [db1]\n", []string{"line 4", "users.bob.allow.0.as"}},
		{"rule without targets", "users:\n  bob:\n    allow:\n      - as: [root]\n", []string{"users.bob.allow.0", "targets or hosts"}},
		{"unknown group", "users:\n  bob:\n    groups: [ops]\n", []string{"line 3", "users.bob.groups.0", `no group "ops"`}},
		{"bad alias", "targets:\n  \"db@1\":\n    address: x\n", []string{"line 2", "targets.db@1", "invalid alias"}},
		{"bad address", "targets:\n  db1:\n    address: \"a:b:c:99999\"\n", []string{"line 3", "targets.db1.address"}},
		{"empty address", "targets:\n  db1: {}\n", []string{"targets.db1.address", "empty"}},
		{"user with at", "users:\n  \"a@b\": {}\n", []string{"users.a@b", "invalid user name"}},
		{"tls half", "web:\n  tls_cert: /x\n", []string{"web.tls_cert"}},
		{"bad yaml", "ssh: [\n", []string{"bad.yaml"}},
		{"bad listen", "ssh:\n  listen: 2222\n", []string{"line 2", "ssh.listen"}},
		{"bad cidr", "web:\n  trusted_proxies: [\"10.0.0.0/99\"]\n", []string{"web.trusted_proxies.0"}},
		{"bad input mode", "recording:\n  input: keys\n", []string{"line 2", "recording.input", `"keys": want auto, all or off`}},
		{"flush too slow", "recording:\n  flush_interval: 5s\n", []string{"recording.flush_interval"}},
		{"bad archive delay", "recording:\n  archive_after: nightly\n", []string{"line 2", "recording.archive_after", `"nightly"`}},
		{"bad metrics listen", "metrics:\n  listen: 9100\n", []string{"line 2", "metrics.listen"}},
		{"banner with an escape", "ssh:\n  banner: \"hi\\e[2J\"\n", []string{"line 2", "ssh.banner", "U+001B"}},
		{"banner too long", "ssh:\n  banner: \"" + strings.Repeat("x", 5000) + "\"\n", []string{"ssh.banner", "longer than 4096"}},
		{"bad storage", "recording:\n  storage: nfs\n", []string{"line 2", "recording.storage", `"nfs": want local or s3`}},
		{"s3 without bucket", "recording:\n  storage: s3\n", []string{"recording.s3.bucket", "required"}},
		{"s3 plain http off loopback", "recording:\n  storage: s3\n  s3: {bucket: b, endpoint: \"s3.example.com\", insecure: true}\n", []string{"recording.s3.insecure", "loopback"}},
		{"s3 endpoint with scheme", "recording:\n  storage: s3\n  s3: {bucket: b, endpoint: \"https://s3.example.com\"}\n", []string{"recording.s3.endpoint", "host[:port]"}},
		{"s3 part too small", "recording:\n  storage: s3\n  s3: {bucket: b, part_size: 1MiB}\n", []string{"recording.s3.part_size", "5MiB"}},
		{"metrics on the web port", "metrics:\n  listen: \"127.0.0.1:8080\"\n", []string{"metrics.listen", "web.listen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), "bad.yaml")
			if err == nil {
				t.Fatalf("no error for %q", tt.doc)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
}

func TestStorageS3(t *testing.T) {
	c, err := Parse([]byte("recording:\n  storage: s3\n  s3:\n    bucket: rec\n    endpoint: \"127.0.0.1:9000\"\n    insecure: true\n    prefix: node/\n"), "s3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Recording.S3
	if c.Recording.Storage != StorageS3 || s.Bucket != "rec" || !s.Insecure || s.PartSize != 5<<20 || s.SpoolAlert != 1<<30 {
		t.Errorf("recording = %+v", c.Recording)
	}
	if d := Default().Recording; d.Storage != StorageLocal || d.S3.Endpoint != "s3.amazonaws.com" {
		t.Errorf("default storage %q endpoint %q", d.Storage, d.S3.Endpoint)
	}
}

func TestSplitHostPortDefault(t *testing.T) {
	tests := []struct {
		in   string
		host string
		port int
		bad  bool
	}{
		{"10.0.0.5", "10.0.0.5", 22, false},
		{"10.0.0.5:2222", "10.0.0.5", 2222, false},
		{"db.internal", "db.internal", 22, false},
		{"[2001:db8::5]:2200", "2001:db8::5", 2200, false},
		{"[2001:db8::5]", "2001:db8::5", 22, false},
		{"2001:db8::5", "2001:db8::5", 22, false},
		{"host:0", "", 0, true},
		{"host:70000", "", 0, true},
		{":22", "", 0, true},
		{"", "", 0, true},
	}
	for _, tt := range tests {
		h, p, err := SplitHostPortDefault(tt.in, 22)
		if (err != nil) != tt.bad || h != tt.host || p != tt.port {
			t.Errorf("SplitHostPortDefault(%q) = %q, %d, %v", tt.in, h, p, err)
		}
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"4096": 4096, "512MiB": 512 << 20, "1GB": 1e9, "10G": 10 << 30, "1.5KiB": 1536} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseByteSize("-1"); err == nil {
		t.Error("negative size accepted")
	}
}

// FuzzParse: no input makes the loader panic, and whatever it accepts is
// valid.
func FuzzParse(f *testing.F) {
	f.Add([]byte("ssh:\n  listen: \":2222\"\n"))
	f.Add([]byte("users:\n  bob:\n    allow:\n      - targets: [db1]\n        as: [root]\n"))
	f.Add([]byte("recording:\n  min_free_space: 1GiB\n"))
	f.Add([]byte("targets:\n  db1: {address: \"[::1]:22\"}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that does not validate: %v", err)
		}
	})
}

func TestMetricsListen(t *testing.T) {
	c, err := Parse(nil, "empty.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Metrics.Listen != "" {
		t.Errorf("metrics.listen defaults to %q, want off", c.Metrics.Listen)
	}
	c, err = Parse([]byte("metrics:\n  listen: \"127.0.0.1:9100\"\n"), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Metrics.Listen != "127.0.0.1:9100" {
		t.Errorf("metrics.listen = %q", c.Metrics.Listen)
	}
}

func TestReuseIdleZeroMeansOff(t *testing.T) {
	c, err := Parse(nil, "empty.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Upstream.ReuseIdle; got != DefaultReuseIdle {
		t.Errorf("default reuse_idle %v, want %v", got, DefaultReuseIdle)
	}
	c, err = Parse([]byte("upstream:\n  reuse_idle: 0s\n"), "off.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Upstream.ReuseIdle; got != 0 {
		t.Errorf("reuse_idle: 0s became %v; 0 must stay off", got)
	}
}

// TestRecordingInput: recording.input is auto unless the file says
// otherwise; the booleans of older files still load, as all and off, each
// with a deprecation note naming its line; auto records input without a
// PTY only.
func TestRecordingInput(t *testing.T) {
	for _, tt := range []struct {
		doc      string
		want     InputMode
		noteLine string // "" when the file is not deprecated
	}{
		{"", InputAuto, ""},
		{"recording:\n  input: auto\n", InputAuto, ""},
		{"recording:\n  input: all\n", InputAll, ""},
		{"recording:\n  input: off\n", InputOff, ""},
		{"recording:\n  input: \"off\"\n", InputOff, ""},
		{"recording:\n  on_failure: fail-open\n  input: true\n", InputAll, "line 3: recording.input: true is deprecated; it means all"},
		{"recording:\n  input: false\n", InputOff, "line 2: recording.input: false is deprecated; it means off"},
	} {
		c, err := Parse([]byte(tt.doc), "x.yaml")
		if err != nil {
			t.Fatalf("%q: %v", tt.doc, err)
		}
		if c.Recording.Input != tt.want {
			t.Errorf("%q: input %q, want %q", tt.doc, c.Recording.Input, tt.want)
		}
		notes := strings.Join(c.Deprecated, "\n")
		if tt.noteLine == "" && notes != "" || !strings.Contains(notes, tt.noteLine) {
			t.Errorf("%q: deprecation notes %q, want %q", tt.doc, notes, tt.noteLine)
		}
	}
	if got := Default().Recording.Input; got != InputAuto {
		t.Errorf("default input %q, want auto", got)
	}
	for _, tt := range []struct {
		m                   InputMode
		withoutPTY, withPTY bool
	}{{InputAuto, true, false}, {InputAll, true, true}, {InputOff, false, false}} {
		if tt.m.Records(false) != tt.withoutPTY || tt.m.Records(true) != tt.withPTY {
			t.Errorf("%s: records without a PTY %v, with one %v; want %v, %v",
				tt.m, tt.m.Records(false), tt.m.Records(true), tt.withoutPTY, tt.withPTY)
		}
	}
}

// TestLogAuditDefaultsOn: log.audit is on unless the file says false.
func TestLogAuditDefaultsOn(t *testing.T) {
	if a := Default().Log.Audit; !a {
		t.Errorf("default log.audit = %v, want true", a)
	}
	c, err := Parse([]byte("log:\n  audit: false\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Log.Audit; a {
		t.Errorf("log.audit: false parsed as %v", a)
	}
}

// TestDefaultsResolvedAtParse: the keys whose zero value is a setting of
// its own (false, 0 = off) come out of Parse with their default when the
// file leaves them out, and with the file's value when it sets them, so
// that callers read plain fields.
func TestDefaultsResolvedAtParse(t *testing.T) {
	rules := "users:\n  alice:\n    keys: [\"" + aliceKey + "\"]\n    allow:\n" +
		"      - {targets: [a], as: [root]}\n" +
		"      - {targets: [b], as: [root], agent_auth: false, agent_forwarding: false}\n" +
		"      - {targets: [c], as: [root], agent_auth: ~}\n"
	c, err := Parse([]byte(rules), "rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	allow := c.Users["alice"].Allow
	for i, want := range []bool{true, false, true} {
		if allow[i].AgentAuth != want || allow[i].AgentForwarding != want {
			t.Errorf("rule %d: agent_auth %v, agent_forwarding %v; want %v", i, allow[i].AgentAuth, allow[i].AgentForwarding, want)
		}
	}
	if !c.Upstream.PasswordAuth || !Default().Upstream.PasswordAuth {
		t.Error("upstream.password_auth left out is not true")
	}
	c, err = Parse([]byte("upstream:\n  password_auth: false\n"), "pw.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Upstream.PasswordAuth {
		t.Error("upstream.password_auth: false parsed as true")
	}
}

// TestRuleMarshalReadsBack: a marshalled rule reads back as itself and
// leaves its defaults out, as config init writes it.
func TestRuleMarshalReadsBack(t *testing.T) {
	for _, r := range []Rule{
		{Targets: []string{"db*"}, As: []string{"root"}, AgentAuth: true, AgentForwarding: true},
		{Hosts: []string{"10.0.0.*"}, As: []string{"*"}, AgentForwarding: true, PortForwarding: true},
		{Targets: []string{"web1"}, As: []string{"deploy"}},
	} {
		out, err := yaml.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Rule
		if err := yaml.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, r) {
			t.Errorf("%+v marshalled as %q read back as %+v", r, out, back)
		}
		if r.AgentAuth && strings.Contains(string(out), "agent_auth") {
			t.Errorf("default agent_auth written out: %q", out)
		}
	}
}

func TestSyslogAddressChecked(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{{"tcp://127.0.0.1:514", true}, {"tls://siem.example:6514", true}, {"udp://127.0.0.1:514", false}, {"127.0.0.1:514", false}, {"tcp://nohost", false}} {
		c := Default()
		c.Log.Syslog.Address = tc.addr
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("log.syslog.address %q: %v", tc.addr, err)
		}
	}
}

func TestStoreDriver(t *testing.T) {
	c, err := Parse(nil, "empty.yaml")
	if err != nil || c.Store.Driver != DriverBbolt {
		t.Fatalf("store.driver defaults to %q (%v), want bbolt", c.Store.Driver, err)
	}
	// An empty dsn with postgres is valid here: the command reads it from
	// JUMPCAST_STORE_DSN.
	if c, err := Parse([]byte("store:\n  driver: postgres\n"), "pg.yaml"); err != nil || c.Store.Driver != DriverPostgres {
		t.Errorf("postgres without dsn: %v", err)
	}
	for _, tc := range []struct{ yaml, key string }{
		{"store:\n  driver: mysql\n", "store.driver"},
		{"store:\n  dsn: postgres://x@db/j\n", "store.dsn"},
	} {
		_, err := Parse([]byte(tc.yaml), "bad.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%q: %v, want an error naming %s", tc.yaml, err, tc.key)
		}
	}
}

// memory_budget: auto by default, off, or a size of at least 32 MiB; the
// automatic budget grows with sessions and stays under nine tenths of a
// cgroup's limit.
func TestMemoryBudget(t *testing.T) {
	for in, want := range map[string]MemoryBudget{"": {}, "memory_budget: auto\n": {}, "memory_budget: off\n": {Off: true},
		"memory_budget: 256MiB\n": {Fixed: 256 << 20}} {
		c, err := Parse([]byte(in), "t.yaml")
		if err != nil || c.MemoryBudget != want {
			t.Errorf("%q: %+v, %v; want %+v", in, c.MemoryBudget, err, want)
		}
	}
	for _, in := range []string{"memory_budget: 16MiB\n", "memory_budget: lots\n"} {
		if _, err := Parse([]byte(in), "t.yaml"); err == nil || !strings.Contains(err.Error(), "memory_budget") {
			t.Errorf("%q: %v, want an error naming memory_budget", in, err)
		}
	}
	if got := AutoMemoryBudget(0, 0); got != AutoMemoryBase {
		t.Errorf("no session: %d", got)
	}
	if got := AutoMemoryBudget(1000, 0); got != AutoMemoryBase+1000*AutoMemoryPerSession {
		t.Errorf("1,000 sessions: %d", got)
	}
	if got := AutoMemoryBudget(1000, 100<<20); got != 90<<20 {
		t.Errorf("1,000 sessions in a 100 MiB cgroup: %d, want 90 MiB", got)
	}
	for _, tc := range []struct {
		mb   MemoryBudget
		want int64
	}{
		{MemoryBudget{}, DefaultWindowPool},
		{MemoryBudget{Off: true}, DefaultWindowPool},
		{MemoryBudget{Fixed: 32 << 20}, 4 << 20},
		{MemoryBudget{Fixed: 256 << 20}, 32 << 20},
		{MemoryBudget{Fixed: 4 << 30}, MaxWindowPool},
	} {
		if got := tc.mb.WindowPool(); got != tc.want {
			t.Errorf("memory_budget %v: window pool %d, want %d", tc.mb, got, tc.want)
		}
	}
}
