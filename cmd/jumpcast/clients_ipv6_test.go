package main

import (
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// forwardIPv6 listens on [::1] and relays each connection to addr, so the
// key target is also a raw IPv6 host; it returns the port. Its listener
// and connections are closed at cleanup. Without an IPv6 loopback the test
// is skipped (failed with JUMPCAST_REQUIRE_REAL=1).
func forwardIPv6(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		if os.Getenv(sshtest.RequireRealEnv) == "1" {
			t.Fatalf("listen on [::1]: %v (%s=1)", err, sshtest.RequireRealEnv)
		}
		t.Skipf("no IPv6 loopback: %v", err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex // guards conns
		conns []net.Conn
	)
	keep := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() { // owner: the test; ends when cleanup closes ln
		defer wg.Done()
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", addr)
			if err != nil {
				_ = down.Close()
				continue
			}
			keep(down)
			keep(up)
			for _, pair := range [][2]net.Conn{{up, down}, {down, up}} {
				wg.Add(1)
				go func() { // owner: this relay; ends when either side closes
					defer wg.Done()
					_, _ = io.Copy(pair[0], pair[1])
					_ = pair[0].Close()
					_ = pair[1].Close()
				}()
			}
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// allowRawIPv6 adds a rule to writeConfig's file that lets alice reach the
// raw host ::1 as user.
func allowRawIPv6(t *testing.T, cfgPath, user string) {
	t.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	rule := "    allow:\n      - hosts: [\"::1\"]\n        as: [\"" + user + "\"]\n"
	cfg := strings.Replace(string(b), "    allow:\n", rule, 1)
	if cfg == string(b) {
		t.Fatal("writeConfig's file has no allow: list")
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// rawIPv6Row: scp, sftp and rsync cannot parse a raw IPv6 target in the
// destination (`user+[::1]:PORT@bastion:path`); with the login name given
// as `-o User=` / `-l` and only the bastion as the host, they work, as
// docs/admins.md says.
func rawIPv6Row(t *testing.T, c *compat, ct compatTarget) {
	sshtest.RequireBinary(t, "ssh", "scp", "sftp", "rsync")
	login := ct.user + "+[::1]:" + c.v6Port
	sshArgs := []string{"-F", c.ssh.ConfigPath, "-p", c.srv.SSHPort}
	scpArgs := []string{"-F", c.ssh.ConfigPath, "-P", c.srv.SSHPort, "-o", "User=" + login}

	m := marker("ipv6-ssh", ct, "exec")
	out, errOut, code := c.run(t, nil, "", "ssh", append(sshArgs, "-l", login, "127.0.0.1", markerCommand(m))...)
	c.checkExec(t, m, out, errOut, code)

	f := newTransferFile(t, marker("ipv6-scp", ct, "transfer"), ct)
	if _, errOut, code := c.run(t, nil, "", "scp", append(scpArgs, f.local, "127.0.0.1:"+f.remote)...); code != 0 {
		t.Errorf("scp -o User= upload: exit %d: %s", code, errOut)
	}
	if _, errOut, code := c.run(t, nil, "", "scp", append(scpArgs, "127.0.0.1:"+f.remote, f.back)...); code != 0 {
		t.Errorf("scp -o User= download: exit %d: %s", code, errOut)
	}
	f.check(t, c)

	f = newTransferFile(t, marker("ipv6-sftp", ct, "transfer"), ct)
	batch := "put " + f.local + " " + f.remote + "\nget " + f.remote + " " + f.back + "\n"
	if _, errOut, code := c.run(t, nil, batch, "sftp", append(scpArgs, "-b", "-", "127.0.0.1")...); code != 0 {
		t.Errorf("sftp -o User=: exit %d: %s", code, errOut)
	}
	f.check(t, c)

	f = newTransferFile(t, marker("ipv6-rsync", ct, "transfer"), ct)
	rsh := "ssh " + strings.Join(sshArgs, " ") + " -l '" + login + "'"
	if _, errOut, code := c.run(t, nil, "", "rsync", "-e", rsh, f.local, "127.0.0.1:"+f.remote); code != 0 {
		t.Errorf("rsync -e 'ssh -l' upload: exit %d: %s", code, errOut)
	}
	if _, errOut, code := c.run(t, nil, "", "rsync", "-e", rsh, "127.0.0.1:"+f.remote, f.back); code != 0 {
		t.Errorf("rsync -e 'ssh -l' download: exit %d: %s", code, errOut)
	}
	f.check(t, c)
}
