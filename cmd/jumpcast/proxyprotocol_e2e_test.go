package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/sshtest"
)

const haproxyPath = "/usr/sbin/haproxy"

// startHAProxy runs a real HAProxy in TCP mode in front of backend,
// passing the client's address in a PROXY v2 header, and returns its
// listening address. It is stopped by PID at cleanup.
func startHAProxy(t testing.TB, backend string) string {
	t.Helper()
	return startHAProxyOver(t, backend)
}

// startHAProxyOver is startHAProxy balancing round-robin over several
// backends, each health-checked every 300 ms (with the PROXY header, as
// the nodes demand it from the balancer); a connection that a dead
// backend refuses is sent to another.
func startHAProxyOver(t testing.TB, backends ...string) string {
	t.Helper()
	sshtest.RequireBinary(t, haproxyPath)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := l.Addr().String()
	_ = l.Close()
	dir := t.TempDir()
	var servers strings.Builder
	for i, b := range backends {
		fmt.Fprintf(&servers, "  server node%d %s send-proxy-v2 check check-send-proxy inter 300ms fall 2 rise 2\n", i+1, b)
	}
	cfg := fmt.Sprintf(`global
  log stderr format raw local0 warning
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  retries 3
  option redispatch
frontend ssh
  bind %s
  default_backend jumpcast
backend jumpcast
  balance roundrobin
%s`, front, servers.String())
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(haproxyPath, "-db", "-f", path)
	var stderr sshtest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", front, time.Second)
		if err == nil {
			_ = c.Close()
			return front
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy did not listen on %s: %v\n%s", front, err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHAProxyGivesTheAdminsAddress: behind a real HAProxy sending PROXY
// v2 (ssh.proxy_protocol_from names it), the recording and the audit
// trail show the admin's own address, not the balancer's; the balancer's
// address without a header is refused, and a client elsewhere may not
// claim an address with a header of its own.
func TestHAProxyGivesTheAdminsAddress(t *testing.T) {
	e := startE2EWith(t, func(cfgPath string) {
		addSSHConfigLine(t, cfgPath, `proxy_protocol_from: ["127.0.0.1/32"]`)
		addWebConfigLine(t, cfgPath, `proxy_protocol_from: ["127.0.0.1/32"]`)
	})
	front := startHAProxy(t, e.srv.SSHAddr)
	webFront := startHAProxy(t, e.srv.WebAddr)
	_, frontPort, _ := net.SplitHostPort(front)

	// The admin at 127.0.0.2, through the balancer at 127.0.0.1.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, errOut, code, err := sshtest.Run(ctx, nil, "ssh", "-F", e.client.ConfigPath, "-p", frontPort,
		"-b", "127.0.0.2", e.login(), "echo via-balancer")
	if err != nil || code != 0 || !strings.Contains(string(out), "via-balancer") {
		t.Fatalf("ssh through haproxy: exit %d %v, %q %q", code, err, out, errOut)
	}
	recs := listRecordings(t, e.cfgPath)
	if len(recs) != 1 || !strings.HasPrefix(recs[0].ClientAddr, "127.0.0.2:") {
		t.Errorf("recording's client address: %+v, want 127.0.0.2:…", recs)
	}
	if a := auditLines(t, e.cfgPath, "--kind", "auth"); !strings.Contains(a, `"remote_addr":"127.0.0.2:`) {
		t.Errorf("auth audit events without the admin's address:\n%s", a)
	}

	// The web site behind the balancer: a failed sign-in from 127.0.0.2 is
	// audited with that address.
	web := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
	res, err := web.Get("http://" + webFront + "/login")
	if err != nil {
		t.Fatalf("web through haproxy: %v", err)
	}
	page, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	m := csrfInput.FindSubmatch(page)
	if m == nil {
		t.Fatalf("login page through haproxy has no form token: %.300s", page)
	}
	// The form token is bound to its cookie; a client without a jar
	// sends it by hand.
	req, _ := http.NewRequest(http.MethodPost, "http://"+webFront+"/login",
		strings.NewReader(url.Values{"_csrf": {string(m[1])}, "name": {"carol"}, "password": {"not the password"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, ck := range res.Cookies() {
		req.AddCookie(ck)
	}
	if res, err := web.Do(req); err != nil {
		t.Fatal(err)
	} else {
		_ = res.Body.Close()
	}
	if !waitFor(5*time.Second, func() bool {
		return strings.Contains(auditLines(t, e.cfgPath, "--kind", "web_login"), `"remote_addr":"127.0.0.2`)
	}) {
		t.Errorf("web sign-in audited without the client's address:\n%s", auditLines(t, e.cfgPath, "--kind", "web_login"))
	}

	// The balancer's own address without a header: refused.
	if _, _, code, _ := sshtest.Run(ctx, nil, "ssh", "-F", e.client.ConfigPath, "-p", e.srv.SSHPort,
		"-b", "127.0.0.1", e.login(), "echo direct"); code != 255 {
		t.Errorf("a connection from the balancer's address without a PROXY header: exit %d, want 255", code)
	}
	// Anyone else: served as is, but may not claim an address.
	if out, _, code, _ := sshtest.Run(ctx, nil, "ssh", "-F", e.client.ConfigPath, "-p", e.srv.SSHPort,
		"-b", "127.0.0.3", e.login(), "echo direct"); code != 0 || !strings.Contains(string(out), "direct") {
		t.Errorf("a direct connection from elsewhere: exit %d %q", code, out)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", e.srv.SSHAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("PROXY TCP4 10.9.9.9 127.0.0.1 1111 22\r\nSSH-2.0-forger\r\n")); err != nil {
		t.Fatal(err)
	}
	// An honest handshake would go on with the server's key exchange and
	// wait for ours; a refused header ends it after the version line.
	got, err := io.ReadAll(c)
	if err != nil || strings.Count(string(got), "\n") > 1 {
		t.Errorf("a forged PROXY header: the server sent %q and %v, want its version line and a close", got, err)
	}
	for _, r := range listRecordings(t, e.cfgPath) {
		if strings.HasPrefix(r.ClientAddr, "10.9.9.9") {
			t.Errorf("a forged address reached the index: %+v", r)
		}
	}
}
