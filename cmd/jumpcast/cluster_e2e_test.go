package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/pgtest"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	"github.com/jumpcast/jumpcast/store"
	"github.com/jumpcast/jumpcast/store/postgres"
)

// silentHeartbeat is the nodes' cluster.heartbeat in TestClusterSilentNode:
// a silent node is found within 3 × 1 s + 1 s. The other tests keep the
// default (10 s), so that a node slowed down by a loaded machine is never
// taken for a dead one while they run.
const silentHeartbeat = time.Second

// testCluster is several `jumpcast serve` processes on one PostgreSQL
// database, each with its own data folder and node id, in front of one
// real sshd.
type testCluster struct {
	dsn    string
	secret string // the secret file's content
	nodes  map[string]*e2e
}

// startCluster starts one node per id (ids are also their node_id), with
// cluster.heartbeat hb (0: the default).
func startCluster(t testing.TB, hb time.Duration, ids ...string) *testCluster {
	t.Helper()
	return startClusterWith(t, hb, "", ids...)
}

// startClusterWith is startCluster with more keys (YAML lines indented
// two spaces) in each node's cluster section.
func startClusterWith(t testing.TB, hb time.Duration, clusterKeys string, ids ...string) *testCluster {
	t.Helper()
	return startClusterEdit(t, hb, clusterKeys, nil, ids...)
}

// startClusterEdit is startClusterWith with edit (when not nil) applied
// to each node's config file before the node starts.
func startClusterEdit(t testing.TB, hb time.Duration, clusterKeys string, edit func(cfgPath string), ids ...string) *testCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	sshtest.RequireBinary(t, "/usr/sbin/sshd", "/usr/bin/ssh")
	tc := &testCluster{dsn: pgtest.DSN(t), secret: "s3cret-" + strings.Repeat("k", 40), nodes: map[string]*e2e{}}
	t.Setenv(config.StoreDSNEnv, tc.dsn) // the children and the CLI inherit it
	secretFile := filepath.Join(t.TempDir(), "cluster.secret")
	if err := os.WriteFile(secretFile, []byte(tc.secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := sshtest.NewKeyPair(t)
	sshd := sshtest.StartSSHD(t, sshtest.SSHDOptions{AuthorizedKeys: []gossh.PublicKey{key.Public}})
	client := sshtest.NewClientConfig(t, key)
	for _, id := range ids {
		e := &e2e{key: key, sshd: sshd, client: client, dataDir: filepath.Join(t.TempDir(), "data-"+id)}
		extra := fmt.Sprintf("store:\n  driver: postgres\n  node_id: %s\ncluster:\n  listen: 127.0.0.1:0\n  secret_file: %q\n", id, secretFile)
		if hb != 0 {
			extra += fmt.Sprintf("  heartbeat: %s\n", hb)
		}
		extra += clusterKeys
		e.cfgPath = writeConfig(t, e.dataDir, key.AuthorizedLine, key.PrivatePath, sshd.Addr, sshd.User(), extra)
		if edit != nil {
			edit(e.cfgPath)
		}
		e.srv = startServer(t, e.cfgPath)
		tc.nodes[id] = e
	}
	return tc
}

// internalURL is node id's advertised internal address, from the registry.
func (tc *testCluster) internalURL(t *testing.T, id string) string {
	t.Helper()
	pg, err := postgres.Open(context.Background(), tc.dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pg.Close() }()
	nodes, err := pg.ListNodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.ID == id && n.Addr != "" {
			return n.Addr
		}
	}
	t.Fatalf("node %s has no internal address in the registry: %+v", id, nodes)
	return ""
}

// waitOutput waits until the live ssh client has printed want.
func waitOutput(t *testing.T, l *liveSSH, want string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(l.out.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("ssh printed %q, waiting for %q", l.out.String(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClusterLockOnAnotherNode: a lock made on node C closes the locked
// user's connection on node A (which polls the index's locks), and A
// refuses the user's next login with the lock's reason.
func TestClusterLockOnAnotherNode(t *testing.T) {
	tc := startCluster(t, 0, "node-a", "node-c")
	a, c := tc.nodes["node-a"], tc.nodes["node-c"]
	live := a.startLiveSSH(t, a.login(), "printf 'ready\\n'; sleep 60")
	waitOutput(t, live, "ready")

	start := time.Now()
	if out, errOut, code := runJumpcast(t, "", "lock", "alice", "--reason", "incident 77", "-c", c.cfgPath); code != 0 {
		t.Fatalf("lock on node C: exit %d %q %q", code, out, errOut)
	}
	if code := live.waitExit(t); code != 255 {
		t.Errorf("ssh on node A: exit %d, want 255", code)
	}
	t.Logf("lock made on C closed the connection on A after %v", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(live.out.String(), "incident 77") {
		t.Errorf("the session on A was not told why: %q", live.out.String())
	}
	if _, errOut, code := a.ssh(t, "", a.login(), "true"); code != 255 || !strings.Contains(errOut, "incident 77") {
		t.Errorf("a new login on A: exit %d %q, want 255 and the reason", code, errOut)
	}
}

// readSSE reads Server-Sent Events' data lines from body into lines
// until the stream ends; done is closed then.
func readSSE(body io.Reader, lines chan<- string) {
	defer close(lines)
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines <- sc.Text()
	}
}

// TestClusterLiveAndEndOnAnotherNode: the web site of node C shows a
// session running on node B live (its live stream, read as the browser
// reads it, carries what the admin types and sees) and ends it: the
// admin's ssh prints the usual line and exits 255. `jumpcast recordings
// end` on node A ends another session of B's. When B is gone, C says
// which node does not answer, at once.
func TestClusterLiveAndEndOnAnotherNode(t *testing.T) {
	tc := startCluster(t, 0, "node-a", "node-b", "node-c")
	a, b, c := tc.nodes["node-a"], tc.nodes["node-b"], tc.nodes["node-c"]
	const pw = "cluster e2e passphrase"
	if _, errOut, code := runJumpcast(t, pw+"\n", "auditor", "add", "root", "--role", "admin", "-c", c.cfgPath); code != 0 {
		t.Fatalf("auditor add: exit %d: %s", code, errOut)
	}
	live := b.startLiveSSH(t, b.login(), `printf 'live-ready\n'; while read l; do printf 'got:%s\n' "$l"; done`)
	waitOutput(t, live, "live-ready")
	recs := waitRecordings(t, c.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusActive })
	rec := recs[0]
	if rec.Node != "node-b" {
		t.Fatalf("recording made on B names node %q", rec.Node)
	}

	web := webLogin(t, c.srv.WebAddr, "root", pw)
	web.Timeout = 0 // the stream lasts as long as the session
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.srv.WebAddr+"/recordings/"+rec.ID+"/live", nil)
	res, err := web.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("live view on C of B's session: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	lines := make(chan string, 1024)
	go readSSE(res.Body, lines) // owner: this test; ends with the stream
	live.send(t, "typed-while-watched")
	var seen strings.Builder
	sawHeader, sawTyped := false, false
	for deadline := time.After(15 * time.Second); !(sawHeader && sawTyped); {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the live stream ended early; it carried:\n%s", seen.String())
			}
			seen.WriteString(l + "\n")
			sawHeader = sawHeader || strings.HasPrefix(l, `data: {"version":2`)
			sawTyped = sawTyped || strings.Contains(l, "got:typed-while-watched")
		case <-deadline:
			t.Fatalf("the live stream on C lacks B's header or output; it carried:\n%s", seen.String())
		}
	}

	// The admin ends it from C's web site.
	page, err := web.Get("http://" + c.srv.WebAddr + "/recordings/" + rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	_ = page.Body.Close()
	m := csrfInput.FindSubmatch(body)
	if m == nil || !strings.Contains(string(body), "end-session") {
		t.Fatalf("the recording page on C offers no way to end B's session: %.500s", body)
	}
	endRes, err := web.PostForm("http://"+c.srv.WebAddr+"/admin/recordings/"+rec.ID+"/end", url.Values{"_csrf": {string(m[1])}, "reason": {"change freeze"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = endRes.Body.Close()
	if endRes.StatusCode != http.StatusSeeOther {
		t.Errorf("end on C: %d, want 303", endRes.StatusCode)
	}
	if code := live.waitExit(t); code != 255 {
		t.Errorf("ssh on B: exit %d, want 255", code)
	}
	if want := "jumpcast: session ended by auditor root: change freeze"; !strings.Contains(live.out.String(), want) {
		t.Errorf("ssh printed %q, want %q", live.out.String(), want)
	}
	sawDone := false
	for l := range lines {
		sawDone = sawDone || l == "event: done"
	}
	if !sawDone {
		t.Error("the forwarded live stream did not end with the session's done event")
	}

	// The command line on node A ends a session on B.
	endFromCLI(t, b, a, "from A")

	// B gone: C answers at once and names B.
	_, id3 := startSleeper(t, b, c, "third")
	b.srv.Kill()
	start := time.Now()
	code, got := webGet(t, web, "http://"+c.srv.WebAddr+"/recordings/"+id3+"/live")
	if want := "the node recording this session, node-b, does not answer"; code != http.StatusBadGateway || !strings.Contains(got, want) {
		t.Errorf("live view of a dead node's session: %d %q, want 502 and %q", code, got, want)
	}
	if _, errOut, code := runJumpcast(t, "", "recordings", "end", id3, "-c", c.cfgPath); code == 0 || !strings.Contains(errOut, "node-b, does not answer") {
		t.Errorf("recordings end of a dead node's session: exit %d %q", code, errOut)
	}
	t.Logf("a dead owner was reported in %v", time.Since(start).Round(time.Millisecond))
}

// webGet is a GET with c's cookies: its status and body.
func webGet(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, string(b)
}

// TestClusterInternalRoutesNeedTheSecret: the internal listener answers
// 401 to a call without the cluster secret, with a forged one, or with a
// prefix of it, on every route; with the secret it works.
func TestClusterInternalRoutesNeedTheSecret(t *testing.T) {
	tc := startCluster(t, 0, "node-a")
	base := tc.internalURL(t, "node-a")
	id := recording.NewID(time.Now())
	hc := &http.Client{Timeout: 10 * time.Second}
	for _, auth := range []string{"", "Bearer ", "Bearer forged-" + strings.Repeat("x", 40), "Bearer " + tc.secret[:len(tc.secret)-1], "Basic " + tc.secret, tc.secret} {
		for _, r := range []struct{ method, path string }{
			{http.MethodGet, "/cluster/v1/sessions/" + id + "/live"},
			{http.MethodPost, "/cluster/v1/sessions/" + id + "/end"},
			{http.MethodGet, "/"},
		} {
			req, _ := http.NewRequest(r.method, base+r.path, strings.NewReader("by=x&why=y"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			res, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s with Authorization %.20q: %d, want 401", r.method, r.path, auth, res.StatusCode)
			}
		}
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/cluster/v1/sessions/"+id+"/end", strings.NewReader("by=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tc.secret)
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusConflict {
		t.Errorf("end of an unknown session with the secret: %d, want 409", res.StatusCode)
	}
	if !strings.Contains(tc.nodes["node-a"].srv.Stderr.String(), "without the cluster secret") {
		t.Error("refused internal calls were not logged")
	}
}

// TestClusterSilentNode: node A is killed (-9) with a live session; node
// B marks A's recording interrupted within the bound (3 missed heartbeats
// and one check) with an audit event naming A; A restarted repairs the
// row from its file (size, SHA-256, duration), and it verifies.
func TestClusterSilentNode(t *testing.T) {
	tc := startCluster(t, silentHeartbeat, "node-a", "node-b")
	a, b := tc.nodes["node-a"], tc.nodes["node-b"]
	live := a.startLiveSSH(t, a.login(), "printf 'before the kill\\n'; sleep 60")
	waitOutput(t, live, "before the kill")
	recs := waitRecordings(t, b.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusActive })
	id := recs[0].ID
	time.Sleep(1500 * time.Millisecond) // past the recording's flush

	a.srv.Kill()
	killed := time.Now()
	var marked recording.Meta
	for {
		r := getRecording(t, b.cfgPath, id)
		if r.Status == recording.StatusInterrupted {
			marked = r
			break
		}
		if time.Since(killed) > 20*time.Second {
			t.Fatalf("A's recording still %s 20 s after the kill", r.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("node B marked A's recording interrupted %v after the kill (bound: %v)", time.Since(killed).Round(time.Millisecond),
		(config.MissedHeartbeats+1)*silentHeartbeat)
	out, _, _ := runJumpcast(t, "", "nodes", "ls", "-c", b.cfgPath)
	if !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool {
		return strings.HasPrefix(l, "node-a ") && strings.HasSuffix(strings.TrimSpace(l), "silent")
	}) {
		t.Errorf("nodes ls on B after A's kill does not call node-a silent:\n%s", out)
	}
	if marked.Error != store.SilentNodeError || marked.SHA256 != "" {
		t.Errorf("marked row: error %q sha256 %q", marked.Error, marked.SHA256)
	}
	auditOut, _, _ := runJumpcast(t, "", "audit", "--kind", string(audit.KindRecording), "-c", b.cfgPath)
	found := false
	for _, line := range strings.Split(strings.TrimSpace(auditOut), "\n") {
		var ev audit.Event
		if json.Unmarshal([]byte(line), &ev) == nil && ev.SessionID == id && ev.Outcome == audit.OutcomeInterrupted &&
			ev.Detail[audit.DetailNode] == "node-a" && ev.Detail[audit.DetailBy] == "node node-b" {
			found = true
		}
	}
	if !found {
		t.Errorf("no recording/interrupted audit event for %s by node-b:\n%s", id, auditOut)
	}

	a.srv = startServer(t, a.cfgPath)
	r := getRecording(t, a.cfgPath, id)
	if r.Status != recording.StatusInterrupted || r.Error != "" || r.SHA256 == "" || r.FileSize == 0 || r.Duration <= 0 {
		t.Fatalf("after A's restart the row is %+v", r)
	}
	out, errOut, code := runJumpcast(t, "", "recordings", "verify", id, "-c", a.cfgPath)
	if code != 0 {
		t.Errorf("verify after the repair: exit %d %q %q", code, out, errOut)
	}
}

// getRecording reads one row through the CLI.
func getRecording(t *testing.T, cfgPath, id string) recording.Meta {
	t.Helper()
	for _, r := range listRecordings(t, cfgPath) {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("recording %s not listed", id)
	return recording.Meta{}
}

// startSleeper starts an ssh session on node on that prints marker and
// sleeps, and returns it with its recording's id, as node via lists it.
func startSleeper(t *testing.T, on, via *e2e, marker string) (*liveSSH, string) {
	t.Helper()
	live := on.startLiveSSH(t, on.login(), "printf '"+marker+"\\n'; sleep 60")
	waitOutput(t, live, marker)
	return live, activeID(t, via.cfgPath)
}

// endFromCLI starts a session on node on and ends it with `jumpcast
// recordings end` on node from: the admin's ssh exits 255 with why.
func endFromCLI(t *testing.T, on, from *e2e, why string) {
	t.Helper()
	live, id := startSleeper(t, on, from, "sleeping")
	if out, errOut, code := runJumpcast(t, "", "recordings", "end", id, "--reason", why, "-c", from.cfgPath); code != 0 {
		t.Fatalf("recordings end: exit %d %q %q", code, out, errOut)
	}
	if code := live.waitExit(t); code != 255 || !strings.Contains(live.out.String(), why) {
		t.Errorf("ssh after the end: exit %d %q, want 255 and %q", code, live.out.String(), why)
	}
}

// activeID waits for the one active recording the index lists, through
// the node of cfgPath, and returns its id.
func activeID(t *testing.T, cfgPath string) string {
	t.Helper()
	for _, r := range waitRecordings(t, cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusActive }) {
		if r.Status == recording.StatusActive {
			return r.ID
		}
	}
	return ""
}
