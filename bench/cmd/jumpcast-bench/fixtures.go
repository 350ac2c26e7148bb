package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// The four paths, in table order.
const (
	pathDirect    = "direct"    // OpenSSH client → target sshd
	pathProxyJump = "proxyjump" // OpenSSH client -J jump sshd → target sshd
	pathRec       = "jc-rec"    // jumpcast serve, recording on (the product)
	pathNorec     = "jc-norec"  // jumpcast-norec: the same proxy with proxy.NopRecorder
	// pathRelay is not measured by default: OpenSSH client → jumpcast-tcprelay
	// (io.Copy in Go, no SSH) → target sshd. What one Go process in the path
	// costs by itself.
	pathRelay = "tcp-relay"
)

var allPaths = []string{pathDirect, pathProxyJump, pathRec, pathNorec}

// Target aliases in the bastions' config.
const (
	aliasDB   = "db1"   // the real sshd target
	aliasIdle = "idle1" // the in-process target used for the idle sessions
)

// The kex pinned on every client (OpenSSH and Go), so that no path wins
// setup by negotiating something cheaper. The cipher is each client's
// default (OpenSSH's: chacha20-poly1305) unless -cipher pins one, e.g.
// pinnedCipher for the extra row.
const (
	pinnedKex    = gossh.KeyExchangeCurve25519
	pinnedCipher = gossh.CipherAES128GCM
)

// benchPath is one way from the admin's client to the target.
type benchPath struct {
	name    string
	alias   string    // Host in the generated ssh_config
	tree    *procTree // the bastion's processes; nil for direct (no bastion)
	bastion *bastion  // set for the jumpcast paths
	// dial opens a Go client to target (aliasDB or aliasIdle) through this
	// path; close closes everything it opened.
	dial func(target string) (client *gossh.Client, close func(), err error)
}

// fixtures are everything the harness starts. All of it is stopped by tb.
type fixtures struct {
	tb        *fixtureTB
	user      string           // the login user on the targets (the current user)
	admin     *sshtest.KeyPair // alice's key: logs in to the sshds and to the bastions
	upstream  *sshtest.KeyPair // the bastions' key for the targets
	hostKey   *sshtest.KeyPair // the bastions' host key
	target    *sshtest.SSHD    // the real target
	jump      *sshtest.SSHD    // the ProxyJump host
	idle      *sshtest.Target  // in-process target for the idle sessions
	clientCfg string           // ssh_config with one Host per path
	text      textFile         // the text the text-bulk metrics cat
	paths     map[string]*benchPath
	cipher    string // -cipher; "" leaves the clients' defaults
}

// startFixtures starts the target, the jump host, the idle target and the
// selected bastions, and writes the ssh_config.
func startFixtures(tb *fixtureTB, o *options, selected []string) *fixtures {
	f := &fixtures{tb: tb, paths: map[string]*benchPath{}}
	f.admin, f.upstream, f.hostKey = sshtest.NewKeyPair(tb), sshtest.NewKeyPair(tb), sshtest.NewKeyPair(tb)
	sshdOpts := func(keys ...gossh.PublicKey) sshtest.SSHDOptions {
		// INFO instead of the fixture's VERBOSE: the same for both sshds, and
		// still the line StartSSHD waits for.
		return sshtest.SSHDOptions{AuthorizedKeys: keys, ExtraConfig: []string{"LogLevel INFO"}}
	}
	f.target = sshtest.StartSSHD(tb, sshdOpts(f.admin.Public, f.upstream.Public))
	f.user = f.target.User()
	f.idle = sshtest.NewTarget(tb, sshtest.TargetOptions{AuthorizedKeys: []gossh.PublicKey{f.admin.Public, f.upstream.Public}})
	f.text = writeTextFile(tb, o.TextBytes, o.Seed)

	hosts := []string{"KexAlgorithms " + pinnedKex, "Compression no"}
	if o.Cipher != "" {
		hosts = append(hosts, "Ciphers "+o.Cipher)
	}
	f.cipher = o.Cipher
	for _, name := range selected {
		p := &benchPath{name: name, alias: name}
		switch name {
		case pathDirect:
			p.dial = f.dialDirect
			hosts = append(hosts, hostBlock(name, f.target.Addr, f.user)...)
		case pathProxyJump:
			f.jump = sshtest.StartSSHD(tb, sshdOpts(f.admin.Public))
			pid, err := readPIDFile(filepath.Join(f.jump.Dir, "sshd.pid"))
			if err != nil {
				tb.Fatalf("jump sshd: %v", err)
			}
			p.tree, p.dial = &procTree{root: pid}, f.dialProxyJump
			hosts = append(hosts, hostBlock("jump", f.jump.Addr, f.user)...)
			hosts = append(hosts, hostBlock(name, f.target.Addr, f.user)...)
			hosts = append(hosts, "  ProxyJump jump")
		case pathRec, pathNorec:
			p.bastion = f.startJumpcast(o, name)
			p.tree, p.dial = &procTree{root: p.bastion.pid}, f.dialJumpcast(p.bastion)
			hosts = append(hosts, hostBlock(name, p.bastion.addr, f.user+"@"+aliasDB)...)
		case pathRelay:
			p.bastion = f.startRelay(o.RelayBin)
			p.tree, p.dial = &procTree{root: p.bastion.pid}, f.dialRelay(p.bastion.addr)
			hosts = append(hosts, hostBlock(name, p.bastion.addr, f.user)...)
		default:
			tb.Fatalf("unknown path %q (want one of %s,%s)", name, strings.Join(allPaths, ","), pathRelay)
		}
		f.paths[name] = p
	}
	cc := sshtest.NewClientConfig(tb, f.admin, hosts...)
	cc.TrustHostKey(tb, f.target.Addr, f.target.HostKey)
	if f.jump != nil {
		cc.TrustHostKey(tb, f.jump.Addr, f.jump.HostKey)
	}
	for _, p := range f.paths {
		switch {
		case p.name == pathRelay:
			cc.TrustHostKey(tb, p.bastion.addr, f.target.HostKey) // the target answers through it
		case p.bastion != nil:
			cc.TrustHostKey(tb, p.bastion.addr, f.hostKey.Public)
		}
	}
	f.clientCfg = cc.ConfigPath
	return f
}

// hostBlock is an ssh_config Host block for addr.
func hostBlock(alias, addr, user string) []string {
	host, port, _ := net.SplitHostPort(addr)
	return []string{"Host " + alias, "  HostName " + host, "  Port " + port, "  User " + user}
}

// startJumpcast starts the real jumpcast (recording on) or jumpcast-norec,
// each with its own data folder on disk.
func (f *fixtures) startJumpcast(o *options, name string) *bastion {
	dir := f.tb.TempDir()
	c := bastionConfig{
		dataDir:      filepath.Join(dir, "data"),
		hostKey:      f.hostKey.PrivatePath,
		identityFile: f.upstream.PrivatePath,
		adminKey:     f.admin.AuthorizedLine,
		remoteUser:   f.user,
		targets:      map[string]string{aliasDB: f.target.Addr, aliasIdle: f.idle.Addr},
		reuseIdle:    o.ReuseIdle,
		window:       o.UpstreamWindow,
	}
	cfgPath, err := writeBastionConfig(c)
	if err != nil {
		f.tb.Fatalf("%v", err)
	}
	bin, args := o.JumpcastBin, []string{"serve", "-c", cfgPath}
	switch {
	case name == pathNorec && o.ABBin != "":
		bin = o.ABBin
	case name == pathNorec:
		bin, args = o.NorecBin, []string{"-c", cfgPath}
	}
	return startBastion(f.tb, bin, args, c.dataDir, filepath.Join(dir, "bastion.log"))
}

// goConfig is the Go client's config for one hop.
func (f *fixtures) goConfig(user string, hostKey gossh.PublicKey) *gossh.ClientConfig {
	return &gossh.ClientConfig{
		User:            user,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(f.admin.Signer)},
		HostKeyCallback: gossh.FixedHostKey(hostKey),
		Config:          gossh.Config{KeyExchanges: []string{pinnedKex}, Ciphers: ciphers(f.cipher)},
		Timeout:         15 * time.Second,
	}
}

// ciphers is the Go client's cipher list for -cipher: nil (x/crypto's
// defaults) when none is pinned.
func ciphers(pinned string) []string {
	if pinned == "" {
		return nil
	}
	return []string{pinned}
}

// targetAddr is the address and host key of a target alias.
func (f *fixtures) targetAddr(target string) (string, gossh.PublicKey) {
	if target == aliasIdle {
		return f.idle.Addr, f.idle.HostKey
	}
	return f.target.Addr, f.target.HostKey
}

func (f *fixtures) dialDirect(target string) (*gossh.Client, func(), error) {
	addr, key := f.targetAddr(target)
	c, err := gossh.Dial("tcp", addr, f.goConfig(f.user, key))
	if err != nil {
		return nil, nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return c, func() { _ = c.Close() }, nil
}

// dialProxyJump is what ssh -J does: a direct-tcpip channel from the jump
// sshd to the target, and a second SSH connection inside it.
func (f *fixtures) dialProxyJump(target string) (*gossh.Client, func(), error) {
	jc, err := gossh.Dial("tcp", f.jump.Addr, f.goConfig(f.user, f.jump.HostKey))
	if err != nil {
		return nil, nil, fmt.Errorf("dial jump %s: %w", f.jump.Addr, err)
	}
	addr, key := f.targetAddr(target)
	conn, err := jc.Dial("tcp", addr)
	if err != nil {
		_ = jc.Close()
		return nil, nil, fmt.Errorf("direct-tcpip to %s: %w", addr, err)
	}
	cc, chans, reqs, err := gossh.NewClientConn(conn, addr, f.goConfig(f.user, key))
	if err != nil {
		_ = jc.Close()
		return nil, nil, fmt.Errorf("ssh to %s through the jump host: %w", addr, err)
	}
	c := gossh.NewClient(cc, chans, reqs)
	return c, func() { _ = c.Close(); _ = jc.Close() }, nil
}

// startRelay starts the tcp-relay path's relay to the real target: bin is
// jumpcast-tcprelay, or socat (a relay in C, for comparison), which is
// given a free port and announced with the same welcome line.
func (f *fixtures) startRelay(bin string) *bastion {
	dir := f.tb.TempDir()
	data, logPath := filepath.Join(dir, "data"), filepath.Join(dir, "relay.log")
	if filepath.Base(bin) != "socat" {
		return startBastion(f.tb, bin, []string{"-to", f.target.Addr}, data, logPath)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.tb.Fatalf("free port for socat: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	script := `echo "socat: SSH on $1, web on off,"; exec "$2" "TCP-LISTEN:$3,bind=127.0.0.1,reuseaddr,fork" "TCP:$4"`
	b := startBastion(f.tb, "sh", []string{"-c", script, "sh", addr, bin, port, f.target.Addr}, data, logPath)
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return b
		}
		if time.Now().After(deadline) {
			f.tb.Fatalf("socat did not listen on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dialRelay reaches the real target through the TCP relay at addr; the
// relay does not lead to the idle target.
func (f *fixtures) dialRelay(addr string) func(string) (*gossh.Client, func(), error) {
	return func(target string) (*gossh.Client, func(), error) {
		if target != aliasDB {
			return nil, nil, fmt.Errorf("the tcp-relay path leads only to %s", aliasDB)
		}
		c, err := gossh.Dial("tcp", addr, f.goConfig(f.user, f.target.HostKey))
		if err != nil {
			return nil, nil, fmt.Errorf("dial the target through the relay %s: %w", addr, err)
		}
		return c, func() { _ = c.Close() }, nil
	}
}

func (f *fixtures) dialJumpcast(b *bastion) func(string) (*gossh.Client, func(), error) {
	return func(target string) (*gossh.Client, func(), error) {
		c, err := gossh.Dial("tcp", b.addr, f.goConfig(f.user+"@"+target, f.hostKey.Public))
		if err != nil {
			return nil, nil, fmt.Errorf("dial jumpcast %s: %w", b.addr, err)
		}
		return c, func() { _ = c.Close() }, nil
	}
}
