package castfile

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// stretch multiplies the times of the programs' sessions, so that a few
// seconds of a real program span many chunks (ChunkSpan is 10 s).
const stretch = 20

// step is one thing done to a program: keys typed, a window change, or a
// pause.
type step struct {
	keys       string
	cols, rows int
	wait       time.Duration
}

func keys(s string) step         { return step{keys: s, wait: 150 * time.Millisecond} }
func resize(cols, rows int) step { return step{cols: cols, rows: rows, wait: 300 * time.Millisecond} }
func pause(d time.Duration) step { return step{wait: d} }

// TestKeyframesOfRealPrograms: the property of TestBothFormatsSeekAndExport
// over what real full-screen programs write, run through the test sshd in
// a PTY: vim (UTF-8 wide characters, the alternate screen), less, top and
// tmux (scroll regions, colours), with window changes.
func TestKeyframesOfRealPrograms(t *testing.T) {
	sshtest.RequireBinary(t, sshtest.SSHDPath, "/usr/bin/vim", "/usr/bin/less", "/usr/bin/top", "/usr/bin/tmux")
	key := sshtest.NewKeyPair(t)
	sshd := sshtest.StartSSHD(t, sshtest.SSHDOptions{AuthorizedKeys: []gossh.PublicKey{key.Public}})
	client, err := gossh.Dial("tcp", sshd.Addr, &gossh.ClientConfig{
		User:            sshd.User(),
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(key.Signer)},
		HostKeyCallback: gossh.FixedHostKey(sshd.HostKey),
		Timeout:         10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Close() }()
	dir := t.TempDir()
	text := filepath.Join(dir, "text.txt")
	var lines []string
	for i := range 300 {
		lines = append(lines, fmt.Sprintf("%03d 日本語のテキスト mixed with ascii and 🙂 emoji, line %d", i, i))
	}
	if err := os.WriteFile(text, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	programs := []struct {
		name, cmd string
		steps     []step
	}{
		{"vim", "vim -u NONE -N -n " + text, []step{pause(500 * time.Millisecond), keys("50G"), keys("o新しい行 new line\x1b"),
			keys(":set number\r"), resize(100, 30), keys("\x06"), keys("\x06"), keys("\x02"), keys("ddp"), resize(60, 20),
			keys("/テキスト\r"), keys("n"), keys("G"), keys(":q!\r")}},
		{"less", "less -R " + text, []step{pause(400 * time.Millisecond), keys(" "), keys(" "), keys("b"), resize(90, 35),
			keys("/line 2\r"), keys("n"), keys("G"), resize(50, 15), keys("g"), keys("q")}},
		{"top", "top -d 0.3", []step{pause(900 * time.Millisecond), resize(120, 40), pause(900 * time.Millisecond), keys("c"),
			pause(600 * time.Millisecond), resize(70, 20), pause(600 * time.Millisecond), keys("q")}},
		{"tmux", "tmux -u -f /dev/null -S " + filepath.Join(dir, "tmux.sock") + " new-session 'seq 1 200; printf \"\\033[1;31mred 日本\\033[0m\\n\"; sleep 0.5; less " + text + "'",
			[]step{pause(900 * time.Millisecond), keys(" "), resize(100, 30), keys(" "), keys("\x02\""), pause(400 * time.Millisecond),
				keys("ls -la\r"), resize(80, 24), keys("exit\r"), keys("q"), pause(500 * time.Millisecond)}},
	}
	for _, p := range programs {
		t.Run(p.name, func(t *testing.T) {
			evs := runProgram(t, client, p.cmd, p.steps)
			raw, gz, _ := record(t, dir, p.name, evs, true)
			rng := rand.New(rand.NewPCG(1, 2))
			for _, rel := range []string{raw, gz} {
				r, err := Open(dirOpener(dir), rel)
				if err != nil {
					t.Fatal(err)
				}
				x := r.Index()
				if len(x.Chunks) < 3 {
					t.Errorf("%s: %d chunks", rel, len(x.Chunks))
				}
				checkSeek(t, r, rng)
				_ = r.Close()
				t.Logf("%s: %d events, %d chunks, %.0f s (stretched ×%d)", rel, len(evs), len(x.Chunks), x.Duration, stretch)
			}
		})
	}
}

// runProgram runs cmd in an 80×24 PTY over SSH, does steps, and returns
// what it wrote as output events, with the window changes, at the times
// they happened (stretched).
func runProgram(t *testing.T, client *gossh.Client, cmd string, steps []step) []genEvent {
	t.Helper()
	s, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if err := s.RequestPty("xterm-256color", 24, 80, gossh.TerminalModes{gossh.ECHO: 1}); err != nil {
		t.Fatal(err)
	}
	stdin, err := s.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := s.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var mu sync.Mutex // guards evs
	evs := make([]genEvent, 0, 1000)
	at := func() time.Duration { return time.Since(start) * stretch }
	done := make(chan struct{})
	go func() { // owner: runProgram; ends when the session's output does
		defer close(done)
		buf := make([]byte, 32<<10)
		for {
			n, err := stdout.Read(buf)
			if n > 0 {
				mu.Lock()
				evs = append(evs, genEvent{at: at(), code: "o", data: string(buf[:n])})
				mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	if err := s.Start("export LANG=C.UTF-8 LC_ALL=C.UTF-8; exec " + cmd); err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		switch {
		case st.keys != "":
			if _, err := stdin.Write([]byte(st.keys)); err != nil {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("%s ended early: %v; it wrote %+v", cmd, err, evs)
			}
		case st.cols > 0:
			mu.Lock()
			evs = append(evs, genEvent{at: at(), code: "r", w: st.cols, h: st.rows})
			mu.Unlock()
			if err := s.WindowChange(st.rows, st.cols); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(st.wait)
	}
	_ = stdin.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not end", cmd)
	}
	mu.Lock()
	defer mu.Unlock()
	return evs
}
