package sshtest

import (
	"io"
	"net"
	"runtime"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

func TestTargetDirectTCPIP(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() { // owner: the test; ends when echo closes
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }() // ends when the peer closes
		}
	}()

	key := NewKeyPair(t)
	for _, allow := range []bool{false, true} {
		tg := NewTarget(t, TargetOptions{AuthorizedKeys: []gossh.PublicKey{key.Public}, AllowDirectTCPIP: allow})
		c := tg.Dial(t, "root", gossh.PublicKeys(key.Signer))
		conn, err := c.Dial("tcp", echo.Addr().String())
		if !allow {
			if err == nil {
				_ = conn.Close()
				t.Error("direct-tcpip accepted without AllowDirectTCPIP")
			}
			continue
		}
		if err != nil {
			t.Fatalf("direct-tcpip: %v", err)
		}
		if _, err := conn.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
			t.Errorf("echo through direct-tcpip: %q %v", buf, err)
		}
		_ = conn.Close()
		if got := tg.Forwards(); len(got) != 1 || got[0] != echo.Addr().String() {
			t.Errorf("Forwards = %q", got)
		}
	}
}

// fakeTB records Skip and Fatal instead of acting on them.
type fakeTB struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(string, ...any) {
	f.skipped = true
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(string, ...any) {
	f.failed = true
	runtime.Goexit()
}

func TestRequireBinary(t *testing.T) {
	for _, tc := range []struct {
		name, path, env       string
		wantSkip, wantFailure bool
	}{
		{"present", "/bin/sh", "1", false, false},
		{"missing", "/nonexistent/jumpcast-bin", "", true, false},
		{"missing in CI", "/nonexistent/jumpcast-bin", "1", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(RequireRealEnv, tc.env)
			f := &fakeTB{TB: t}
			done := make(chan struct{})
			go func() { // owner: this subtest, which waits for it
				defer close(done)
				RequireBinary(f, tc.path)
			}()
			<-done
			if f.skipped != tc.wantSkip || f.failed != tc.wantFailure {
				t.Errorf("skipped=%v failed=%v, want %v %v", f.skipped, f.failed, tc.wantSkip, tc.wantFailure)
			}
		})
	}
}
