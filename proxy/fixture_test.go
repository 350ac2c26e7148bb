package proxy

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/hostpins"
	"github.com/jumpcast/jumpcast/internal/leakcheck"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/store"
	"go.uber.org/goleak"
	gossh "golang.org/x/crypto/ssh"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leakcheck.Background()...)
}

// fixture is a bastion on 127.0.0.1:0 in front of an in-process target,
// with alice allowed to reach alias "t1" as root or deploy. The bastion
// logs in to the target with its own identity key.
type fixture struct {
	srv      *Server
	addr     string
	cfg      *config.Config
	target   *sshtest.Target
	admin    *sshtest.KeyPair // alice's key
	hostKey  gossh.PublicKey  // the bastion's host key
	rec      *spyRecorder
	audit    *memAudit
	logs     *sshtest.SyncBuffer
	pins     *store.Store // the index holding the tofu pins
	serveErr chan error
}

type fixtureOpts struct {
	target   sshtest.TargetOptions
	noTarget bool                 // do not start a target; t1 points at a closed port
	config   func(*config.Config) // edits before the server starts
	recorder Recorder             // default: a spy
	noIDs    bool                 // the bastion has no identity key
	addr     string               // t1's address when the target is not an in-process one
	id       *sshtest.KeyPair     // the bastion's identity key (default: a new one)
	onDial   func(outcome string, took time.Duration)
}

func newFixture(t *testing.T, o fixtureOpts) *fixture {
	t.Helper()
	f := &fixture{admin: sshtest.NewKeyPair(t), audit: &memAudit{}, logs: &sshtest.SyncBuffer{}, serveErr: make(chan error, 1)}
	bastionID := o.id
	if bastionID == nil {
		bastionID = sshtest.NewKeyPair(t)
	}
	addr := closedPort(t)
	if o.addr != "" {
		addr = o.addr
	} else if !o.noTarget {
		o.target.AuthorizedKeys = append(o.target.AuthorizedKeys, bastionID.Public)
		f.target = sshtest.NewTarget(t, o.target)
		addr = f.target.Addr
	}
	doc := `
users:
  alice:
    keys: ["` + f.admin.AuthorizedLine + `"]
    allow:
      - targets: ["t1"]
        as: ["root", "deploy"]
targets:
  t1:
    address: "` + addr + `"
`
	cfg, err := config.Parse([]byte(doc), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Upstream.DialTimeout = 3 * time.Second
	cfg.Upstream.HandshakeTimeout = 5 * time.Second
	if o.config != nil {
		o.config(cfg)
	}
	f.cfg = cfg
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, _ := gossh.NewSignerFromKey(priv)
	f.hostKey = hostSigner.PublicKey()
	f.rec = &spyRecorder{}
	var rec Recorder = f.rec
	if o.recorder != nil {
		rec = o.recorder
	}
	f.pins, err = store.Open(filepath.Join(t.TempDir(), "jumpcast.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.pins.Close() })
	ids := []gossh.Signer{bastionID.Signer}
	if o.noIDs {
		ids = nil
	}
	f.srv, err = New(Options{
		Config: cfg, HostSigners: []gossh.Signer{hostSigner}, Recorder: rec, Audit: f.audit,
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Pins:   hostpins.Index{Index: f.pins}, IdentitySigners: ids, OnDial: o.onDial,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	go func() { f.serveErr <- f.srv.Serve(ln) }() // owner: fixture; ends at Close
	t.Cleanup(func() {
		_ = f.srv.Close()
		if err := <-f.serveErr; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return f
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	_ = ln.Close()
	return a
}

// dial connects to the bastion with login name and alice's key. The
// connection is closed when tb (the calling test or subtest) ends; tb is
// the caller's own, so Fatalf runs on the goroutine of the test that fails.
func (f *fixture) dial(tb testing.TB, login string) *gossh.Client {
	tb.Helper()
	c, err := f.tryDial(login, gossh.PublicKeys(f.admin.Signer))
	if err != nil {
		tb.Fatalf("dial bastion as %s: %v", login, err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func (f *fixture) tryDial(login string, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	return f.tryDialConfig(&gossh.ClientConfig{User: login, Auth: auth})
}

// tryDialConfig logs in to the bastion with conf, which gets the
// bastion's host key.
func (f *fixture) tryDialConfig(conf *gossh.ClientConfig) (*gossh.Client, error) {
	conn, err := net.DialTimeout("tcp", f.addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	conf.HostKeyCallback = gossh.FixedHostKey(f.hostKey)
	cc, chans, reqs, err := gossh.NewClientConn(conn, f.addr, conf)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return gossh.NewClient(cc, chans, reqs), nil
}

// result is what the admin's client saw on one session channel.
type result struct {
	stdout, stderr []byte
	exit           string // "exit-status", "exit-signal" or ""
	status         uint32
	signal         string
	order          []string // "exit", "eof", "close" as they arrived
}

// rawSession is a session channel the test drives by hand.
type rawSession struct {
	t    testing.TB // the test that opened it
	ch   gossh.Channel
	done chan result

	mu     sync.Mutex // guards out and errOut
	out    []byte     // stdout so far
	errOut []byte     // stderr so far
}

// openReadyShell opens an xterm shell as root@t1 and waits until it has run
// a command.
func (f *fixture) openReadyShell(t testing.TB) *rawSession {
	t.Helper()
	return f.openReadyShellOn(t, f.dial(t, "root@t1"))
}

// openReadyShellOn is openReadyShell on the connection c.
func (f *fixture) openReadyShellOn(t testing.TB, c *gossh.Client) *rawSession {
	t.Helper()
	s := openRaw(t, c)
	s.pty("xterm", 80, 24)
	s.request("shell", true, nil)
	if _, err := s.ch.Write([]byte("echo ready\n")); err != nil {
		t.Fatal(err)
	}
	s.waitFor("ready")
	return s
}

func openRaw(t testing.TB, c *gossh.Client) *rawSession {
	t.Helper()
	ch, reqs, err := c.OpenChannel("session", nil)
	if err != nil {
		t.Fatalf("open session: %v", err)
	}
	s := &rawSession{t: t, ch: ch, done: make(chan result, 1)}
	go s.collect(reqs) // owner: the test; ends when the channel closes
	return s
}

func (s *rawSession) collect(reqs <-chan *gossh.Request) {
	var r result
	var mu sync.Mutex // guards r.order
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // owner: collect
		defer wg.Done()
		b := make([]byte, 32*1024)
		for {
			n, err := s.ch.Read(b)
			s.mu.Lock()
			s.out = append(s.out, b[:n]...)
			s.mu.Unlock()
			if err != nil {
				mu.Lock()
				r.order = append(r.order, "eof")
				mu.Unlock()
				return
			}
		}
	}()
	go func() { // owner: collect; the only reader of stderr (tests use stderrNow)
		defer wg.Done()
		b := make([]byte, 4096)
		for {
			n, err := s.ch.Stderr().Read(b)
			s.mu.Lock()
			s.errOut = append(s.errOut, b[:n]...)
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	for req := range reqs {
		switch req.Type {
		case "exit-status":
			var p exitStatusMsg
			_ = gossh.Unmarshal(req.Payload, &p)
			r.exit, r.status = req.Type, p.Status
		case "exit-signal":
			var p exitSignalMsg
			_ = gossh.Unmarshal(req.Payload, &p)
			r.exit, r.signal = req.Type, p.Signal
		}
		mu.Lock()
		r.order = append(r.order, "exit")
		mu.Unlock()
		if req.WantReply {
			_ = req.Reply(false, nil)
		}
	}
	wg.Wait()
	r.order = append(r.order, "close")
	s.mu.Lock()
	r.stdout = append([]byte(nil), s.out...)
	r.stderr = append([]byte(nil), s.errOut...)
	s.mu.Unlock()
	s.done <- r
}

func (s *rawSession) request(typ string, wantReply bool, payload any) bool {
	s.t.Helper()
	var p []byte
	if payload != nil {
		p = gossh.Marshal(payload)
	}
	ok, err := s.ch.SendRequest(typ, wantReply, p)
	if err != nil {
		s.t.Fatalf("%s request: %v", typ, err)
	}
	return ok
}

func (s *rawSession) pty(term string, cols, rows uint32) bool {
	return s.request("pty-req", true, ptyReq{Term: term, Columns: cols, Rows: rows, Modes: "\x00"})
}

func (s *rawSession) stdout() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.out)
}

// stderrNow is what arrived on stderr so far.
func (s *rawSession) stderrNow() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.errOut)
}

// waitFor waits until stdout contains want.
func (s *rawSession) waitFor(want string) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(s.stdout(), want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("stdout never contained %q; got %q", want, s.stdout())
}

func (s *rawSession) wait() result {
	s.t.Helper()
	select {
	case r := <-s.done:
		return r
	case <-time.After(20 * time.Second):
		s.t.Fatalf("session did not end; stdout so far %q", s.stdout())
		return result{}
	}
}

// spyRecorder is a real in-memory Recorder: it keeps every session's
// stream. Failing, when set, makes Start (failStart) or Output
// (failOutputAfter bytes) fail.
type spyRecorder struct {
	mu              sync.Mutex // guards everything below
	sessions        []*spySession
	failStart       error
	failOutputAfter int // >0: Output fails once this many bytes were recorded
}

type spySession struct {
	r      *spyRecorder
	info   recorder.SessionInfo
	output bytes.Buffer
	input  bytes.Buffer
	sizes  [][2]int
	exit   *asciicast.Exit
	closes int
	// bytes taken by TryOutput and TryInput: the relay's fast path
	fastOut, fastIn int
}

func (r *spyRecorder) Start(_ context.Context, info recorder.SessionInfo) (SessionRecorder, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failStart != nil {
		return nil, r.failStart
	}
	s := &spySession{r: r, info: info}
	r.sessions = append(r.sessions, s)
	return s, nil
}

func (s *spySession) Output(p []byte) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if s.r.failOutputAfter > 0 && s.output.Len()+len(p) > s.r.failOutputAfter {
		return errors.New("disk full")
	}
	s.output.Write(p)
	return nil
}

// TryOutput takes p as Output does, unless Output would fail: that is
// left to Output, as recorder.Session does.
func (s *spySession) TryOutput(p []byte) bool {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if s.r.failOutputAfter > 0 && s.output.Len()+len(p) > s.r.failOutputAfter {
		return false
	}
	s.output.Write(p)
	s.fastOut += len(p)
	return true
}

func (s *spySession) Apply() {}

func (s *spySession) TryInput(p []byte) bool {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.input.Write(p)
	s.fastIn += len(p)
	return true
}

func (s *spySession) Input(p []byte) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.input.Write(p)
	return nil
}

func (s *spySession) Resize(w, h int) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.sizes = append(s.sizes, [2]int{w, h})
	return nil
}

func (s *spySession) Close(ctx context.Context, exit asciicast.Exit) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s.exit = &exit
	s.closes++
	return nil
}

// last returns a copy of the most recent session's record, waiting until
// it was closed.
func (r *spyRecorder) last(t *testing.T) spySession {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		if n := len(r.sessions); n > 0 && r.sessions[n-1].closes > 0 {
			s := r.sessions[n-1]
			cp := spySession{info: s.info, sizes: append([][2]int(nil), s.sizes...), exit: s.exit, closes: s.closes,
				fastOut: s.fastOut, fastIn: s.fastIn}
			cp.output.Write(s.output.Bytes())
			cp.input.Write(s.input.Bytes())
			r.mu.Unlock()
			return cp
		}
		r.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no closed recording")
	return spySession{}
}

// memAudit keeps audit events in memory.
type memAudit struct {
	mu     sync.Mutex
	events []audit.Event
	hold   func(audit.Event) // when set, runs before an event is stored (a slow index)
}

func (a *memAudit) AppendAudit(_ context.Context, ev audit.Event) error {
	a.mu.Lock()
	hold := a.hold
	a.mu.Unlock()
	if hold != nil {
		hold(ev)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, ev)
	return nil
}

// setHold sets hold (see memAudit).
func (a *memAudit) setHold(f func(audit.Event)) {
	a.mu.Lock()
	a.hold = f
	a.mu.Unlock()
}

// find returns the events of kind with outcome.
func (a *memAudit) find(kind audit.Kind, outcome audit.Outcome) []audit.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []audit.Event
	for _, e := range a.events {
		if e.Kind == kind && e.Outcome == outcome {
			out = append(out, e)
		}
	}
	return out
}

// waitEvent waits for an audit event of kind with outcome.
func (a *memAudit) waitEvent(t *testing.T, kind audit.Kind, outcome audit.Outcome) audit.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ev := a.find(kind, outcome); len(ev) > 0 {
			return ev[len(ev)-1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no audit event %s/%s", kind, outcome)
	return audit.Event{}
}
