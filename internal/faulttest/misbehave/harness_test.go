//go:build faults

package misbehave

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	wiring "github.com/jumpcast/jumpcast/internal/bastion"
	"github.com/jumpcast/jumpcast/internal/leakcheck"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	"github.com/jumpcast/jumpcast/proxy"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/castfile"
	"github.com/jumpcast/jumpcast/store"
	"go.uber.org/goleak"
	gossh "golang.org/x/crypto/ssh"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leakcheck.Background()...)
}

// Timeouts of the bastion under test: small, so that every fault ends
// quickly, and asserted against what the admin sees.
const (
	dialTimeout      = 1 * time.Second
	upstreamHSTimout = 1 * time.Second
	adminHSTimeout   = 1 * time.Second
	slack            = 3 * time.Second // scheduling on a busy 2-core machine
)

// bastion is a real jumpcast SSH side on 127.0.0.1:0, wired by
// bastion.New as `jumpcast serve` wires it: proxy.Server, the recorder's
// Manager writing into recDir, and a bbolt store for the index and the
// audit events. alice may reach every target as root.
type bastion struct {
	t       *testing.T
	srv     *proxy.Server
	addr    string
	cfg     *config.Config
	st      store.Index
	dir     *recorder.Dir
	recDir  string
	admin   *sshtest.KeyPair // alice's key
	id      *sshtest.KeyPair // the bastion's identity for targets
	hostKey gossh.PublicKey
	logs    *sshtest.SyncBuffer
}

type bastionOpts struct {
	targets map[string]string    // alias → address
	config  func(*config.Config) // edits after the test defaults
	recDir  string               // recordings folder; default: a new temporary one
	id      *sshtest.KeyPair     // bastion identity; default: a new one
}

func newBastion(t *testing.T, o bastionOpts) *bastion {
	t.Helper()
	b := &bastion{t: t, admin: sshtest.NewKeyPair(t), id: o.id, logs: &sshtest.SyncBuffer{}}
	if b.id == nil {
		b.id = sshtest.NewKeyPair(t)
	}
	var doc strings.Builder
	doc.WriteString("users:\n  alice:\n    keys: [\"" + b.admin.AuthorizedLine + "\"]\n" +
		"    allow:\n      - targets: [\"*\"]\n        as: [\"root\", \"" + currentUser(t) + "\"]\ntargets:\n")
	names := make([]string, 0, len(o.targets))
	for n := range o.targets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		doc.WriteString("  " + n + ":\n    address: \"" + o.targets[n] + "\"\n")
	}
	cfg, err := config.Parse([]byte(doc.String()), "misbehave.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Upstream.DialTimeout = dialTimeout
	cfg.Upstream.HandshakeTimeout = upstreamHSTimout
	cfg.SSH.HandshakeTimeout = adminHSTimeout
	cfg.Recording.MinFreeSpace = 0
	cfg.DataDir = filepath.Join(t.TempDir(), "data") // made 0700 by jumpcast: a TempDir is 0755
	cfg.Upstream.IdentityFiles = []string{b.id.PrivatePath}
	if o.config != nil {
		o.config(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	b.cfg = cfg
	b.recDir = o.recDir
	if b.recDir == "" {
		b.recDir = wiring.RecordingsPath(cfg)
	}
	logger := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	bst, err := wiring.New(cfg, wiring.Options{Logger: logger, RecordingsDir: b.recDir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	b.srv, b.st, b.dir = bst.Proxy, bst.Store, bst.Dir
	b.hostKey = bst.HostKeys[0].PublicKey()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- b.srv.Serve(ln) }() // owner: bastion; ends at Close
	t.Cleanup(func() {
		if err := b.srv.Close(); err != nil {
			t.Errorf("close bastion: %v", err)
		}
		if err := <-served; !errors.Is(err, proxy.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		if err := bst.Close(); err != nil {
			t.Errorf("close bastion: %v", err)
		}
		if t.Failed() {
			t.Logf("bastion log:\n%s", b.logs.String())
		}
	})
	return b
}

// currentUser is who a real sshd target logs the bastion in as ("root"
// in CI): alice may use it besides root.
func currentUser(t *testing.T) string {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if u.Username == "root" {
		return "nobody" // not used; keeps the list free of duplicates
	}
	return u.Username
}

// goodTarget starts an in-process target that accepts the bastion's key.
func goodTarget(t *testing.T, id *sshtest.KeyPair) *sshtest.Target {
	return sshtest.NewTarget(t, sshtest.TargetOptions{AuthorizedKeys: []gossh.PublicKey{id.Public}})
}

// dial connects to the bastion as login with alice's key. The raw TCP
// connection is returned too, for tests that cut it.
func (b *bastion) dial(login string) (*gossh.Client, net.Conn) {
	b.t.Helper()
	c, conn, err := b.tryDial(login, 10*time.Second)
	if err != nil {
		b.t.Fatalf("dial bastion as %s: %v", login, err)
	}
	b.t.Cleanup(func() { _ = c.Close() })
	return c, conn
}

func (b *bastion) tryDial(login string, timeout time.Duration) (*gossh.Client, net.Conn, error) {
	conn, err := net.DialTimeout("tcp", b.addr, timeout)
	if err != nil {
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	cc, chans, reqs, err := gossh.NewClientConn(conn, b.addr, &gossh.ClientConfig{
		User: login, Auth: []gossh.AuthMethod{gossh.PublicKeys(b.admin.Signer)},
		HostKeyCallback: gossh.FixedHostKey(b.hostKey), Timeout: timeout,
	})
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return gossh.NewClient(cc, chans, reqs), conn, nil
}

// run is what the admin's client saw of one exec session.
type run struct {
	stdout, stderr string
	status         int // -1: no exit status
	took           time.Duration
}

// exec runs cmd through c and waits at most limit for the session to end.
func (b *bastion) exec(c *gossh.Client, cmd string, limit time.Duration) run {
	b.t.Helper()
	start := time.Now()
	s, err := c.NewSession()
	if err != nil {
		b.t.Fatalf("open session: %v", err)
	}
	defer s.Close()
	var out, errOut sshtest.SyncBuffer
	s.Stdout, s.Stderr = &out, &errOut
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }() // owner: exec; ends with the session
	select {
	case err = <-done:
	case <-time.After(limit):
		b.t.Fatalf("session %q did not end within %v; stdout %q stderr %q", cmd, limit, out.String(), errOut.String())
	}
	return run{stdout: out.String(), stderr: errOut.String(), status: exitStatus(b.t, err), took: time.Since(start)}
}

func exitStatus(t *testing.T, err error) int {
	var ee *gossh.ExitError
	var missing *gossh.ExitMissingError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitStatus()
	case errors.As(err, &missing):
		return -1
	default:
		t.Fatalf("session: %v", err)
		return -1
	}
}

// healthy checks that the bastion still serves a full session to a good
// target: the proof every fault test ends with.
func (b *bastion) healthy(login string) {
	b.t.Helper()
	c, _ := b.dial(login)
	if r := b.exec(c, "echo healthy", 10*time.Second); r.stdout != "healthy\n" || r.status != 0 {
		b.t.Errorf("next session after the fault: %+v", r)
	}
	_ = c.Close()
}

// waitAudit waits for an audit event of kind and outcome that match
// accepts (nil: any), and returns the newest such.
func (b *bastion) waitAudit(kind audit.Kind, outcome audit.Outcome, match func(audit.Event) bool) audit.Event {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, _, err := b.st.ListAudit(context.Background(), store.AuditFilter{Kind: kind, Limit: 100})
		if err != nil {
			b.t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Outcome == outcome && (match == nil || match(ev)) {
				return ev
			}
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no matching audit event %s/%s; have %+v", kind, outcome, evs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lastRecording waits until the newest recording of target (an alias)
// is no longer active and returns its index row.
func (b *bastion) lastRecording(target string) recording.Meta {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		p, err := b.st.ListRecordings(context.Background(), store.Filter{Target: target, Limit: 1})
		if err != nil {
			b.t.Fatal(err)
		}
		if len(p.Items) == 1 && p.Items[0].Status != recording.StatusActive {
			return p.Items[0]
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no finished recording: %+v", p.Items)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cast is a recording file as a reader sees it.
type cast struct {
	outLen  int64    // bytes of "o" data
	outSHA  string   // hex SHA-256 of the "o" data, concatenated
	output  []byte   // the "o" data, kept up to its first MiB
	markers []string // "m" labels
	exit    string   // the "x" data, "" when missing
	events  int
	cut     bool // the last line was cut (a crash or a full disk)
}

// readCast parses rec's file to its end; any error but a cut last line
// fails the test.
func (b *bastion) readCast(rec recording.Meta) cast {
	b.t.Helper()
	f, err := castfile.OpenPlain(b.dir.Files(), rec.Path)
	if err != nil {
		b.t.Fatalf("open recording: %v", err)
	}
	defer f.Close()
	r, err := asciicast.NewReader(f)
	if err != nil {
		b.t.Fatalf("recording header: %v", err)
	}
	var c cast
	h := sha256.New()
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.t.Fatalf("recording event %d: %v", c.events, err)
		}
		c.events++
		switch ev.Code {
		case asciicast.CodeOutput:
			h.Write([]byte(ev.Data))
			c.outLen += int64(len(ev.Data))
			if len(c.output) < 1<<20 {
				c.output = append(c.output, ev.Data...)
			}
		case asciicast.CodeMarker:
			c.markers = append(c.markers, ev.Data)
		case asciicast.CodeExit:
			c.exit = ev.Data
		}
	}
	c.cut = r.Truncated()
	c.outSHA = hex.EncodeToString(h.Sum(nil))
	return c
}
