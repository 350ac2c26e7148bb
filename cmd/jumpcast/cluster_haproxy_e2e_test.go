package main

import (
	"context"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// startBalancedCluster starts nodes a, b and c (cluster.heartbeat hb; 0:
// the default) sharing one SSH host key, behind a real HAProxy sending
// PROXY v2, with edit (when not nil) applied to each config too, and
// returns them with HAProxy's port.
func startBalancedCluster(t testing.TB, hb time.Duration, edit func(cfgPath string)) (*testCluster, string) {
	t.Helper()
	hostKey := filepath.Join(t.TempDir(), "ssh_host_ed25519_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	ids := []string{"node-a", "node-b", "node-c"}
	tc := startClusterEdit(t, hb, "", func(cfgPath string) {
		addSSHConfigLine(t, cfgPath, `host_keys: ["`+hostKey+`"]`)
		addSSHConfigLine(t, cfgPath, `proxy_protocol_from: ["127.0.0.1/32"]`)
		if edit != nil {
			edit(cfgPath)
		}
	}, ids...)
	var backends []string
	for _, id := range ids {
		backends = append(backends, tc.nodes[id].srv.SSHAddr)
	}
	_, port, _ := net.SplitHostPort(startHAProxyOver(t, backends...))
	return tc, port
}

// TestClusterBehindHAProxy: three `jumpcast serve` on one PostgreSQL and
// one S3 bucket, sharing one SSH host key, behind a real HAProxy in TCP
// mode that sends PROXY v2. Sessions spread over the three nodes, each
// recording names the admin's address (not HAProxy's), and the admin's
// known_hosts holds one key whichever node answered; node C's web plays a
// recording node A made. With node A killed (-9) while it holds a live
// session, the sessions on B and C go on, every new session through
// HAProxy still works, and A's recording is marked interrupted; A
// restarted sends what its spool held, and every recording is then in the
// bucket and verifies on node C.
func TestClusterBehindHAProxy(t *testing.T) {
	_, bucket := useBucket(t, "")
	tc, port := startBalancedCluster(t, silentHeartbeat, bucket)
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

	playsOnC(t, c, waitRecordings(t, c.cfgPath, 6, func(r recording.Meta) bool { return r.Location == recording.LocationBucket }), "node-a")
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
	closed := func(r recording.Meta) bool { return r.Status != recording.StatusActive } // not the live ones on B and C
	var done []recording.Meta
	waitRecordings(t, c.cfgPath, 11, func(r recording.Meta) bool {
		return closed(r) && r.Location == recording.LocationBucket
	})
	for _, r := range listRecordings(t, c.cfgPath) {
		if !closed(r) {
			continue
		}
		done = append(done, r)
		if out, errOut, code := runJumpcast(t, "", "recordings", "verify", r.ID, "-c", c.cfgPath); code != 0 {
			t.Errorf("verify %s (made on %s) on C: exit %d %q %q", r.ID, r.Node, code, out, errOut)
		}
	}
	if got := getRecording(t, c.cfgPath, onA); got.SHA256 == "" || got.Duration <= 0 || got.Location != recording.LocationBucket {
		t.Errorf("A's interrupted recording after its restart: %+v", got)
	}
	playsOnC(t, c, done, "node-a")
}

// playsOnC signs in to node c's web site and fetches the player's first
// chunk of a recording in recs made on node from: it must hold that
// session's output.
func playsOnC(t *testing.T, c *e2e, recs []recording.Meta, from string) {
	t.Helper()
	i := slices.IndexFunc(recs, func(r recording.Meta) bool { return r.Node == from && r.Status != recording.StatusActive })
	if i < 0 {
		t.Fatalf("no closed recording made on %s", from)
	}
	const pw = "balanced cluster passphrase"
	runJumpcast(t, pw+"\n", "auditor", "add", "carol", "--role", "auditor", "-c", c.cfgPath) // again: already there
	web := webLogin(t, c.srv.WebAddr, "carol", pw)
	// The session printed the command's last word ("echo two") or the
	// marker it printf'ed ("printf 'live-a\n'; sleep 60").
	want := recs[i].Command[strings.LastIndex(recs[i].Command, " ")+1:]
	if m := liveMarker.FindString(recs[i].Command); m != "" {
		want = m
	}
	status, body := webGet(t, web, "http://"+c.srv.WebAddr+"/recordings/"+recs[i].ID+"/chunks/0")
	if status != http.StatusOK || !strings.Contains(body, want) {
		t.Errorf("node C plays %s's recording %s (%q): %d, want %q in %.300s", from, recs[i].ID, recs[i].Command, status, want, body)
	}
}

var liveMarker = regexp.MustCompile(`live-[a-z]`)

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
