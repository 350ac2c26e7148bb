package main

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// startBalancedCluster starts nodes a, b and c (cluster.heartbeat hb; 0:
// the default) sharing one SSH host key, behind a real HAProxy sending
// PROXY v2, and returns them with HAProxy's port.
func startBalancedCluster(t testing.TB, hb time.Duration) (*testCluster, string) {
	t.Helper()
	hostKey := filepath.Join(t.TempDir(), "ssh_host_ed25519_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	ids := []string{"node-a", "node-b", "node-c"}
	tc := startClusterEdit(t, hb, "", func(cfgPath string) {
		addSSHConfigLine(t, cfgPath, `host_keys: ["`+hostKey+`"]`)
		addSSHConfigLine(t, cfgPath, `proxy_protocol_from: ["127.0.0.1/32"]`)
	}, ids...)
	var backends []string
	for _, id := range ids {
		backends = append(backends, tc.nodes[id].srv.SSHAddr)
	}
	_, port, _ := net.SplitHostPort(startHAProxyOver(t, backends...))
	return tc, port
}

// TestClusterBehindHAProxy: three `jumpcast serve` on one PostgreSQL,
// sharing one SSH host key, behind a real HAProxy in TCP mode that sends
// PROXY v2. Sessions spread over the three nodes, each recording names
// the admin's address (not HAProxy's), and the admin's known_hosts holds
// one key whichever node answered. With node A killed (-9) while it holds
// a live session, the sessions on B and C go on, every new session
// through HAProxy still works, A's recording is marked interrupted, and A
// restarted repairs it so that every recording verifies on its node.
func TestClusterBehindHAProxy(t *testing.T) {
	tc, port := startBalancedCluster(t, silentHeartbeat)
	a, c := tc.nodes["node-a"], tc.nodes["node-c"]
	admin := []string{"-b", "127.0.0.2"} // the admin's own address, not the balancer's

	run := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		args := append([]string{"-F", a.client.ConfigPath, "-p", port}, admin...)
		out, errOut, code, err := sshtest.Run(ctx, nil, "ssh", append(args, a.login(), "echo "+what)...)
		if err != nil || code != 0 || !strings.Contains(string(out), what) {
			t.Fatalf("ssh through haproxy (%s): exit %d %v, %q %q", what, code, err, out, errOut)
		}
	}
	for _, what := range []string{"one", "two", "three", "four", "five", "six"} {
		run(what)
	}
	recs := listRecordings(t, c.cfgPath)
	byNode := map[string]int{}
	for _, r := range recs {
		byNode[r.Node]++
		if !strings.HasPrefix(r.ClientAddr, "127.0.0.2:") {
			t.Errorf("recording %s on %s: client address %q, want the admin's 127.0.0.2", r.ID, r.Node, r.ClientAddr)
		}
	}
	if len(recs) != 6 || byNode["node-a"] == 0 || byNode["node-b"] == 0 || byNode["node-c"] == 0 {
		t.Fatalf("6 sessions through haproxy made %d recordings on %v; want them spread over the three nodes", len(recs), byNode)
	}

	if out, errOut, code := runJumpcast(t, "", "config", "check", "-c", c.cfgPath); code != 0 || !strings.Contains(out, "as every node in the registry") {
		t.Errorf("config check on C with one shared host key: exit %d %q %q", code, out, errOut)
	}

	// One live session per node (round-robin), then A dies.
	lives := map[string]*liveSSH{}
	for i := 0; len(lives) < 3; i++ {
		if i == 9 {
			t.Fatalf("9 live sessions through haproxy reached only %d nodes", len(lives))
		}
		marker := "live-" + string(rune('a'+i))
		l := a.startLiveSSHVia(t, port, admin, a.login(), "printf '"+marker+"\\n'; sleep 60")
		waitOutput(t, l, marker)
		var node string
		for _, r := range waitRecordings(t, c.cfgPath, len(recs)+i+1, func(recording.Meta) bool { return true }) {
			if r.Status == recording.StatusActive && r.Command != "" && strings.Contains(r.Command, marker) {
				node = r.Node
			}
		}
		if node == "" || lives[node] != nil {
			continue // left running; ends with the test
		}
		lives[node] = l
	}
	time.Sleep(1500 * time.Millisecond) // past the recordings' flush
	a.srv.Kill()
	killed := time.Now()
	if code := lives["node-a"].waitExit(t); code != 255 {
		t.Errorf("the admin on the killed node: ssh exit %d, want 255", code)
	}
	for _, what := range []string{"seven", "eight", "nine", "ten"} {
		run(what) // HAProxy sends them to B and C
	}
	for _, id := range []string{"node-b", "node-c"} {
		select {
		case <-lives[id].done:
			t.Errorf("the live session on %s ended when A was killed: %q", id, lives[id].out.String())
		default:
		}
	}
	var onA string
	for {
		var active bool
		for _, r := range listRecordings(t, c.cfgPath) {
			if r.Node == "node-a" && r.Status == recording.StatusInterrupted {
				onA = r.ID
			}
			active = active || (r.Node == "node-a" && r.Status == recording.StatusActive)
		}
		if onA != "" && !active {
			break
		}
		if time.Since(killed) > 20*time.Second {
			t.Fatalf("20 s after A's kill its live recording is not interrupted")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("A's live recording marked interrupted %v after the kill", time.Since(killed).Round(time.Millisecond))

	a.srv = startServer(t, a.cfgPath)
	for _, r := range listRecordings(t, c.cfgPath) {
		if r.Status == recording.StatusActive {
			continue // the live sessions on B and C
		}
		on := tc.nodes[r.Node]
		if out, errOut, code := runJumpcast(t, "", "recordings", "verify", r.ID, "-c", on.cfgPath); code != 0 {
			t.Errorf("verify %s on %s: exit %d %q %q", r.ID, r.Node, code, out, errOut)
		}
	}
	if got := getRecording(t, a.cfgPath, onA); got.SHA256 == "" || got.Duration <= 0 {
		t.Errorf("A's interrupted recording after its restart: %+v", got)
	}
}

// TestClusterHostKeysMustMatch: two nodes that each generated their own
// host key. The second to start says so in its log, `config check` on
// either names the other node and its key, and `nodes ls` shows each
// node's key.
func TestClusterHostKeysMustMatch(t *testing.T) {
	tc := startCluster(t, 0, "node-a", "node-b")
	a, b := tc.nodes["node-a"], tc.nodes["node-b"]
	if !waitFor(5*time.Second, func() bool { return strings.Contains(b.srv.Stderr.String(), "other SSH host keys") }) {
		t.Errorf("node B's log does not warn about A's other host key:\n%s", b.srv.Stderr.String())
	}
	out, errOut, code := runJumpcast(t, "", "config", "check", "-c", a.cfgPath)
	if code != 0 || !strings.Contains(out, "warning: node node-b presents host keys SHA256:") {
		t.Errorf("config check on A: exit %d %q %q; want a warning naming node-b", code, out, errOut)
	}
	out, _, _ = runJumpcast(t, "", "nodes", "ls", "-c", a.cfgPath)
	if strings.Count(out, "SHA256:") != 2 {
		t.Errorf("nodes ls does not show both nodes' host keys:\n%s", out)
	}
}
