package sshtest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"go.uber.org/goleak"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type execReq struct{ Command string }

func newTestTarget(t *testing.T) (*Target, *gossh.Client) {
	t.Helper()
	key := NewKeyPair(t)
	tg := NewTarget(t, TargetOptions{AuthorizedKeys: []gossh.PublicKey{key.Public}})
	return tg, tg.Dial(t, "root", gossh.PublicKeys(key.Signer))
}

func TestTargetExecExitStatus(t *testing.T) {
	tg, c := newTestTarget(t)
	s := openSession(t, c)
	s.request("exec", execReq{"echo out; echo err >&2; exit 7"})
	r := s.wait()
	if r.exit != "exit-status" || r.status != 7 {
		t.Errorf("exit = %s %d, want exit-status 7", r.exit, r.status)
	}
	if string(r.stdout) != "out\n" || string(r.stderr) != "err\n" {
		t.Errorf("stdout %q stderr %q, want \"out\\n\" and \"err\\n\"", r.stdout, r.stderr)
	}
	if got := tg.AuthLog(); len(got) != 1 || got[0] != "publickey:root" {
		t.Errorf("AuthLog = %q, want [publickey:root]", got)
	}
}

func TestTargetExitSignal(t *testing.T) {
	_, c := newTestTarget(t)
	s := openSession(t, c)
	s.request("exec", execReq{"kill -TERM $$"})
	if r := s.wait(); r.exit != "exit-signal" || r.signal != "TERM" {
		t.Errorf("exit = %s %q, want exit-signal TERM", r.exit, r.signal)
	}

	s = openSession(t, c)
	s.request("exec", execReq{"echo started; exec sleep 30"})
	s.waitFor("started\n")
	s.request("signal", struct{ Signal string }{"INT"})
	if r := s.wait(); r.exit != "exit-signal" || r.signal != "INT" {
		t.Errorf("after signal INT: exit = %s %q, want exit-signal INT", r.exit, r.signal)
	}
}

// ptyReq builds a pty-req payload; modes are RFC 4254 opcode/value pairs.
func ptyReq(cols, rows uint32, modes ...[2]uint32) any {
	var m []byte
	for _, op := range modes {
		m = append(m, byte(op[0]), byte(op[1]>>24), byte(op[1]>>16), byte(op[1]>>8), byte(op[1]))
	}
	m = append(m, 0)
	return struct {
		Term          string
		Columns, Rows uint32
		Width, Height uint32
		Modes         string
	}{"xterm", cols, rows, 0, 0, string(m)}
}

func TestTargetPTYWindowChange(t *testing.T) {
	tg, c := newTestTarget(t)
	s := openSession(t, c)
	s.request("pty-req", ptyReq(100, 30))
	s.request("env", struct{ Name, Value string }{"JUMPCAST_TEST_X", "hello"})
	s.request("shell", nil)
	s.write("stty size; echo \"x=$JUMPCAST_TEST_X term=$TERM\"\n")
	s.waitFor("30 100\r\n")
	s.waitFor("x=hello term=xterm\r\n")
	s.request("window-change", windowChange{Columns: 120, Rows: 40})
	s.write("stty size\n")
	s.waitFor("40 120\r\n")
	s.write("exit 3\n")
	if r := s.wait(); r.exit != "exit-status" || r.status != 3 {
		t.Errorf("exit = %s %d, want exit-status 3", r.exit, r.status)
	}
	if env := tg.LastEnv(); env["JUMPCAST_TEST_X"] != "hello" {
		t.Errorf("LastEnv = %v, want JUMPCAST_TEST_X=hello", env)
	}
}

func TestTargetTerminalModes(t *testing.T) {
	_, c := newTestTarget(t)
	s := openSession(t, c)
	// ECHO (53) off, ICANON (51) on, VINTR (1) = ^B.
	s.request("pty-req", ptyReq(80, 24, [2]uint32{53, 0}, [2]uint32{51, 1}, [2]uint32{1, 2}))
	s.request("exec", execReq{"stty -a"})
	out := string(s.wait().stdout)
	for _, want := range []string{"-echo ", "icanon", "intr = ^B"} {
		if !strings.Contains(out, want) {
			t.Errorf("stty -a lacks %q:\n%s", want, out)
		}
	}
}

func TestTargetBinaryRoundTrip(t *testing.T) {
	_, c := newTestTarget(t)
	in := make([]byte, 1<<20)
	if _, err := rand.Read(in); err != nil {
		t.Fatal(err)
	}
	s := openSession(t, c)
	s.request("exec", execReq{"cat"})
	go func() { // owner: the test; ends when the write completes or the channel closes
		_, _ = s.ch.Write(in)
		_ = s.ch.CloseWrite()
	}()
	r := s.wait()
	if !bytes.Equal(r.stdout, in) || r.status != 0 {
		t.Errorf("round trip: got %d bytes (equal=%v), exit %s %d", len(r.stdout), bytes.Equal(r.stdout, in), r.exit, r.status)
	}
}

func TestTargetSeveralSessions(t *testing.T) {
	_, c := newTestTarget(t)
	var sessions []*rawSession
	for i := range 5 {
		s := openSession(t, c)
		s.request("exec", execReq{"sleep 0.2; echo " + string(rune('a'+i))})
		sessions = append(sessions, s)
	}
	for i, s := range sessions {
		if r := s.wait(); string(r.stdout) != string(rune('a'+i))+"\n" || r.status != 0 {
			t.Errorf("session %d: %q exit %d", i, r.stdout, r.status)
		}
	}
}

func TestTargetSFTP(t *testing.T) {
	_, c := newTestTarget(t)
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatalf("sftp client: %v", err)
	}
	defer sc.Close()
	path := t.TempDir() + "/f.bin"
	data := bytes.Repeat([]byte("jumpcast\x00\xff"), 10000)
	f, err := sc.Create(path)
	if err != nil {
		t.Fatalf("sftp create: %v", err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatalf("sftp write: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("sftp close: %v", err)
	}
	f, err = sc.Open(path)
	if err != nil {
		t.Fatalf("sftp open: %v", err)
	}
	got, err := io.ReadAll(f)
	_ = f.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("sftp read back %d bytes (equal=%v), err %v", len(got), bytes.Equal(got, data), err)
	}
}

func TestTargetPasswordAuth(t *testing.T) {
	tg := NewTarget(t, TargetOptions{Password: "s3cret"})
	tg.Dial(t, "root", gossh.Password("s3cret"))
	tg.Dial(t, "deploy", gossh.KeyboardInteractive(func(_, _ string, qs []string, echos []bool) ([]string, error) {
		if len(qs) != 1 || qs[0] != "Password: " || echos[0] {
			return nil, errors.New("unexpected questions")
		}
		return []string{"s3cret"}, nil
	}))
	_, err := dialSSH(tg.Addr, &gossh.ClientConfig{
		User: "root", Auth: []gossh.AuthMethod{gossh.Password("wrong")},
		HostKeyCallback: gossh.FixedHostKey(tg.HostKey),
	}, 5*time.Second)
	if err == nil {
		t.Error("wrong password accepted")
	}
	want := []string{"password:root", "keyboard-interactive:deploy"}
	if got := tg.AuthLog(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("AuthLog = %q, want %q", got, want)
	}
}

func TestTargetNoAuthConfigured(t *testing.T) {
	tg := NewTarget(t, TargetOptions{})
	key := NewKeyPair(t)
	_, err := dialSSH(tg.Addr, &gossh.ClientConfig{
		User: "root", Auth: []gossh.AuthMethod{gossh.PublicKeys(key.Signer)},
		HostKeyCallback: gossh.FixedHostKey(tg.HostKey),
	}, 5*time.Second)
	if err == nil {
		t.Error("a target without authorized keys or password let a client in")
	}
}

func TestTargetAgentForwarding(t *testing.T) {
	RequireBinary(t, "ssh-add")
	_, c := newTestTarget(t)
	agentKey := NewKeyPair(t)
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: agentKey.Private}); err != nil {
		t.Fatal(err)
	}
	if err := agent.ForwardToAgent(c, keyring); err != nil {
		t.Fatal(err)
	}
	s := openSession(t, c)
	s.request("auth-agent-req@openssh.com", nil)
	s.request("exec", execReq{"ssh-add -L"})
	r := s.wait()
	if !strings.Contains(string(r.stdout), strings.Fields(agentKey.AuthorizedLine)[1]) || r.status != 0 {
		t.Errorf("ssh-add -L through the forwarded agent: %q %q exit %d", r.stdout, r.stderr, r.status)
	}
}

func TestTargetClientGoneKillsChild(t *testing.T) {
	// A nested Target so that goleak can check right after its cleanup.
	t.Run("inner", func(t *testing.T) {
		_, c := newTestTarget(t)
		s := openSession(t, c)
		s.request("pty-req", ptyReq(80, 24))
		s.request("exec", execReq{"echo ready; sleep 60"})
		s.waitFor("ready")
		start := time.Now()
		_ = c.Close()
		s.wait()
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("session took %v to end after the client left", d)
		}
	})
	goleak.VerifyNone(t)
}

// TestTargetExitStatusBeforeEOF pins the end of a session: x/crypto's reader
// queues requests in order of arrival, so if exit-status was sent before EOF, it
// is already queued when the reader sees EOF.
func TestTargetExitStatusBeforeEOF(t *testing.T) {
	_, c := newTestTarget(t)
	for i := range 20 {
		ch, reqs, err := c.OpenChannel("session", nil)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := ch.SendRequest("exec", true, gossh.Marshal(execReq{"seq 1 20000; exit 5"})); !ok || err != nil {
			t.Fatalf("exec: %v %v", ok, err)
		}
		out, err := io.ReadAll(ch)
		if err != nil || !strings.HasSuffix(string(out), "\n20000\n") {
			t.Fatalf("run %d: output ends %q, err %v", i, out[max(0, len(out)-10):], err)
		}
		select {
		case req := <-reqs:
			var p struct{ Status uint32 }
			if req.Type != "exit-status" || gossh.Unmarshal(req.Payload, &p) != nil || p.Status != 5 {
				t.Fatalf("run %d: first request %s %x, want exit-status 5", i, req.Type, req.Payload)
			}
		default:
			t.Fatalf("run %d: EOF arrived before exit-status", i)
		}
		for range reqs { // the channel closes after EOF
		}
	}
}

func TestTargetShellWithoutPTY(t *testing.T) {
	_, c := newTestTarget(t)
	s := openSession(t, c)
	s.request("shell", nil)
	s.write("echo no-tty; tty; exit 5\n")
	r := s.wait()
	if !strings.HasPrefix(string(r.stdout), "no-tty\nnot a tty\n") || r.status != 5 {
		t.Errorf("shell without pty: %q %q exit %d", r.stdout, r.stderr, r.status)
	}
}

func TestTargetGoesAway(t *testing.T) {
	key := NewKeyPair(t)
	tg := NewTarget(t, TargetOptions{AuthorizedKeys: []gossh.PublicKey{key.Public}})
	c := tg.Dial(t, "root", gossh.PublicKeys(key.Signer))
	s := openSession(t, c)
	s.request("exec", execReq{"echo ready; sleep 60"})
	s.waitFor("ready")
	if n := tg.ActiveSessions(); n != 1 {
		t.Errorf("ActiveSessions = %d, want 1", n)
	}
	tg.CloseConnections()
	if r := s.wait(); r.exit != "" {
		t.Errorf("a dropped connection delivered %s", r.exit)
	}
	deadline := time.Now().Add(5 * time.Second)
	for tg.ActiveSessions() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := tg.ActiveSessions(); n != 0 {
		t.Errorf("ActiveSessions = %d after the connection dropped", n)
	}

	// Still listening: a new client gets in; after Close nobody does.
	tg.Dial(t, "root", gossh.PublicKeys(key.Signer))
	tg.Close()
	if _, err := dialSSH(tg.Addr, &gossh.ClientConfig{User: "root", HostKeyCallback: gossh.FixedHostKey(tg.HostKey)}, 2*time.Second); err == nil {
		t.Error("closed target accepted a connection")
	}
}
