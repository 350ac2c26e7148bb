package proxy

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
	gossh "golang.org/x/crypto/ssh"
)

type execMsg struct{ Command string }

func TestExecExitStatusAndStreams(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "root@t1")
	s := openRaw(t, c)
	if !s.request("exec", true, execMsg{"echo out; echo err >&2; exit 7"}) {
		t.Fatal("exec refused")
	}
	r := s.wait()
	if r.exit != "exit-status" || r.status != 7 {
		t.Errorf("exit = %s %d, want exit-status 7", r.exit, r.status)
	}
	if string(r.stdout) != "out\n" || string(r.stderr) != "err\n" {
		t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
	}
	rec := f.rec.last(t)
	if rec.info.Kind != recorder.KindExec || rec.info.Command != "echo out; echo err >&2; exit 7" ||
		rec.info.User != "alice" || rec.info.RemoteUser != "root" || rec.info.TargetAlias != "t1" ||
		!recording.ValidID(rec.info.ID) || rec.info.KeyFingerprint != gossh.FingerprintSHA256(f.admin.Public) {
		t.Errorf("session info = %+v", rec.info)
	}
	if got := rec.output.String(); got != "out\nerr\n" && got != "err\nout\n" {
		t.Errorf("recorded output %q, want stdout and stderr", got)
	}
	if rec.exit == nil || !rec.exit.HasStatus || rec.exit.Status != 7 || rec.closes != 1 {
		t.Errorf("recorded exit = %+v (closes %d)", rec.exit, rec.closes)
	}
	ev := f.audit.waitEvent(t, audit.KindPolicy, audit.OutcomeAllowed)
	if ev.User != "alice" || ev.Target != "t1" || ev.RemoteUser != "root" {
		t.Errorf("policy audit event = %+v", ev)
	}
	logs := f.logs.String()
	for _, want := range []string{"policy decision", "decision=allowed", "session started", "session ended", "exit_status=7"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func TestExitSignal(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "root@t1")
	s := openRaw(t, c)
	s.request("exec", true, execMsg{"kill -TERM $$"})
	if r := s.wait(); r.exit != "exit-signal" || r.signal != "TERM" {
		t.Errorf("exit = %s %q, want exit-signal TERM", r.exit, r.signal)
	}
	s = openRaw(t, c)
	s.request("exec", true, execMsg{"echo started; exec sleep 30"})
	s.waitFor("started\n")
	s.request("signal", false, struct{ Signal string }{"INT"})
	if r := s.wait(); r.exit != "exit-signal" || r.signal != "INT" {
		t.Errorf("after signal INT: exit = %s %q", r.exit, r.signal)
	}
	if rec := f.rec.last(t); rec.exit == nil || rec.exit.Signal != "INT" {
		t.Errorf("recorded exit = %+v", rec.exit)
	}
}

func TestShellPTYWindowChangeRecorded(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "deploy+t1")
	s := openRaw(t, c)
	if !s.pty("xterm-256color", 80, 24) {
		t.Fatal("pty-req refused")
	}
	if !s.request("shell", true, nil) {
		t.Fatal("shell refused")
	}
	if _, err := s.ch.Write([]byte("stty size; echo TERM=$TERM\n")); err != nil {
		t.Fatal(err)
	}
	s.waitFor("24 80")
	s.waitFor("TERM=xterm-256color")
	s.request("window-change", false, windowChange{Columns: 132, Rows: 43})
	if _, err := s.ch.Write([]byte("stty size\n")); err != nil {
		t.Fatal(err)
	}
	s.waitFor("43 132")
	if _, err := s.ch.Write([]byte("exit 3\n")); err != nil {
		t.Fatal(err)
	}
	r := s.wait()
	if r.exit != "exit-status" || r.status != 3 {
		t.Errorf("exit = %s %d, want 3", r.exit, r.status)
	}
	rec := f.rec.last(t)
	if !rec.info.PTY || rec.info.Term != "xterm-256color" || rec.info.Width != 80 || rec.info.Height != 24 ||
		rec.info.Kind != recorder.KindShell || rec.info.Env["TERM"] != "xterm-256color" || rec.info.RemoteUser != "deploy" {
		t.Errorf("session info = %+v", rec.info)
	}
	if len(rec.sizes) != 1 || rec.sizes[0] != [2]int{132, 43} {
		t.Errorf("recorded resizes = %v, want [[132 43]]", rec.sizes)
	}
	if !bytes.Equal(rec.output.Bytes(), r.stdout) {
		t.Errorf("recorded output differs from what the client received:\n rec %q\n got %q", rec.output.String(), r.stdout)
	}
	if !strings.Contains(rec.input.String(), "stty size") {
		t.Errorf("recorded input %q", rec.input.String())
	}
}

func TestEnvAllowListAndLoaderVariables(t *testing.T) {
	f := newFixture(t, fixtureOpts{config: func(c *config.Config) {
		c.SSH.EnvAllow = append(c.SSH.EnvAllow, "LD_*", "FOO")
	}})
	c := f.dial(t, "root@t1")
	s := openRaw(t, c)
	if !s.request("env", true, envReq{"LANG", "C.UTF-8"}) {
		t.Error("LANG refused")
	}
	if !s.request("env", true, envReq{"FOO", "bar"}) {
		t.Error("FOO (allow-listed) refused")
	}
	if s.request("env", true, envReq{"LD_PRELOAD", "/tmp/evil.so"}) {
		t.Error("LD_PRELOAD accepted although loader variables are always refused")
	}
	if s.request("env", true, envReq{"SECRET", "x"}) {
		t.Error("SECRET accepted although not allow-listed")
	}
	s.request("exec", true, execMsg{`echo "$LANG/$FOO/$LD_PRELOAD/$SECRET"`})
	if r := s.wait(); string(r.stdout) != "C.UTF-8/bar//\n" {
		t.Errorf("target environment: %q", r.stdout)
	}
}

func TestBinaryRoundTrip10MiB(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "root@t1")
	s := openRaw(t, c)
	s.request("exec", true, execMsg{"cat"})
	data := make([]byte, 10<<20)
	_, _ = rand.Read(data)
	go func() { // owner: test; ends when all data is written
		_, _ = s.ch.Write(data)
		_ = s.ch.CloseWrite()
	}()
	r := s.wait()
	if sha256.Sum256(r.stdout) != sha256.Sum256(data) || r.status != 0 {
		t.Fatalf("round trip: got %d bytes (status %d), want %d identical", len(r.stdout), r.status, len(data))
	}
	rec := f.rec.last(t)
	if rec.output.Len() != len(data) || !bytes.Equal(rec.input.Bytes(), data) {
		t.Errorf("recorded %d output bytes and %d input bytes, want %d each", rec.output.Len(), rec.input.Len(), len(data))
	}
}

func TestSeveralChannelsPerConnection(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "root@t1")
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() { // owner: test
			defer wg.Done()
			ch, reqs, err := c.OpenChannel("session", nil)
			if err != nil {
				t.Errorf("channel %d: %v", i, err)
				return
			}
			go gossh.DiscardRequests(reqs)
			defer ch.Close()
			cmd := gossh.Marshal(execMsg{"seq 1 20000 | tail -1"})
			if ok, err := ch.SendRequest("exec", true, cmd); !ok || err != nil {
				t.Errorf("channel %d: exec: %v %v", i, ok, err)
				return
			}
			out, _ := io.ReadAll(ch)
			if string(out) != "20000\n" {
				t.Errorf("channel %d: %q", i, out)
			}
		}()
	}
	wg.Wait()
}

func TestChannelCap(t *testing.T) {
	f := newFixture(t, fixtureOpts{config: func(c *config.Config) { c.SSH.MaxChannelsPerConnection = 2 }})
	c := f.dial(t, "root@t1")
	var open []gossh.Channel
	for range 2 {
		ch, reqs, err := c.OpenChannel("session", nil)
		if err != nil {
			t.Fatal(err)
		}
		go gossh.DiscardRequests(reqs)
		open = append(open, ch)
	}
	if _, _, err := c.OpenChannel("session", nil); err == nil || !strings.Contains(err.Error(), "too many channels") {
		t.Errorf("third channel: %v, want too many channels", err)
	}
	for _, ch := range open {
		_ = ch.Close()
	}
}
