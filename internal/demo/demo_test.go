package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// TestDemoSessionIsRecorded does what a newcomer does after `make demo`:
// runs the printed ssh line (here with a scripted shell session), logs in
// to the web site with the printed auditor name and password, and finds the
// session there with the text it printed and its exit status.
func TestDemoSessionIsRecorded(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	if testing.Short() {
		t.Skip("builds and runs the jumpcast binary")
	}
	sshtest.RequireBinary(t, "/usr/bin/ssh", "/usr/bin/scp")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bin := jumpcastBinary(ctx, t)

	d, err := Start(ctx, Options{Jumpcast: bin, Dir: t.TempDir(), Shell: "/bin/sh"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	var printed strings.Builder
	d.Print(&printed)
	line := d.SSHCommand(true)
	if !strings.Contains(printed.String(), line) || !strings.Contains(printed.String(), d.Password) {
		t.Fatalf("printed instructions lack the ssh line or the password:\n%s", printed.String())
	}

	// The printed line, word for word, plus a scripted session: the shell
	// prints 42 (not in the typed text) and exits 5.
	fields := strings.Fields(line)[1:] // the demo's paths have no spaces
	dest := fields[len(fields)-1]
	args := append(fields[:len(fields)-1:len(fields)-1], "-F", "/dev/null", "-o", "BatchMode=yes", "-tt", dest)
	out, errOut, code, err := sshtest.Run(ctx, strings.NewReader("echo demo-marker-$((6*7))\nexit 5\n"), "ssh", args...)
	if err != nil {
		t.Fatalf("ssh: %v (stderr %q)", err, errOut)
	}
	if code != 5 || !strings.Contains(string(out), "demo-marker-42") {
		t.Fatalf("ssh exited %d, output %q, stderr %q; want 5 and demo-marker-42\nserver log:\n%s", code, out, errOut, d.logTail())
	}

	c := webLogin(ctx, t, d)
	defer c.CloseIdleConnections()
	rec := waitFinished(ctx, t, c, d)
	if rec.ExitStatus == nil || *rec.ExitStatus != 5 || rec.User != d.User || rec.TargetAlias != "demo" {
		t.Errorf("recording row = %+v; want user %s, target demo, exit 5", rec, d.User)
	}
	if text := castOutput(ctx, t, c, d.WebURL+"api/recordings/"+rec.ID+"/cast"); !strings.Contains(text, "demo-marker-42") {
		t.Errorf("recorded output lacks demo-marker-42:\n%q", text)
	}

	// scp with the + form, as docs/admins.md shows it: the demo target's
	// sftp subsystem (OpenSSH 9's scp protocol) copies and exits 0.
	src, dst := filepath.Join(t.TempDir(), "src.txt"), filepath.Join(t.TempDir(), "dst.txt")
	if err := os.WriteFile(src, []byte("copied through the bastion\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code, err = sshtest.Run(ctx, nil, "scp", "-F", "/dev/null", "-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile="+d.KnownHosts, "-o", "IdentitiesOnly=yes", "-i", d.KeyPath,
		"-P", strconv.Itoa(d.SSHPort), src, d.User+"+demo@127.0.0.1:"+dst)
	if got, _ := os.ReadFile(dst); err != nil || code != 0 || string(got) != "copied through the bastion\n" {
		t.Errorf("scp: exit %d, err %v, stderr %q; copy holds %q", code, err, errOut, got)
	}
}

// jumpcastBinary builds cmd/jumpcast into the test's folder, or returns
// $JUMPCAST_BIN when set.
func jumpcastBinary(ctx context.Context, t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("JUMPCAST_BIN"); bin != "" {
		return bin
	}
	goBin, err := exec.LookPath("go") // go test puts its own GOROOT/bin first on PATH
	if err != nil {
		t.Fatalf("the go command is needed to build jumpcast: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "jumpcast")
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "github.com/jumpcast/jumpcast/cmd/jumpcast")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build jumpcast: %v\n%s", err, out)
	}
	return bin
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// webLogin signs in as the demo auditor through the login form.
func webLogin(ctx context.Context, t *testing.T, d *Demo) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil) // never fails with nil options
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	page := get(ctx, t, c, d.WebURL+"login")
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the login page:\n%s", page)
	}
	form := url.Values{"name": {d.Account}, "password": {d.Password}, "_csrf": {m[1]}, "next": {"/"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.WebURL+"login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		t.Fatalf("log in as %s: status %d at %s; want the recordings list", d.Account, resp.StatusCode, resp.Request.URL)
	}
	return c
}

type apiRecording struct {
	ID          string `json:"id"`
	User        string `json:"user"`
	TargetAlias string `json:"target_alias"`
	Status      string `json:"status"`
	ExitStatus  *int   `json:"exit_status"`
}

// waitFinished polls the JSON API until the demo's one recording is finished.
func waitFinished(ctx context.Context, t *testing.T, c *http.Client, d *Demo) apiRecording {
	t.Helper()
	for {
		var list struct {
			Recordings []apiRecording `json:"recordings"`
		}
		body := get(ctx, t, c, d.WebURL+"api/recordings")
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("decode /api/recordings: %v\n%s", err, body)
		}
		if len(list.Recordings) > 1 {
			t.Fatalf("%d recordings, want 1: %s", len(list.Recordings), body)
		}
		if len(list.Recordings) == 1 && list.Recordings[0].Status == "finished" {
			return list.Recordings[0]
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no finished recording before the deadline; last answer: %s", body)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// castOutput downloads a cast and returns its "o" events' data joined.
func castOutput(ctx context.Context, t *testing.T, c *http.Client, u string) string {
	t.Helper()
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(get(ctx, t, c, u)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev []any
		if json.Unmarshal(sc.Bytes(), &ev) != nil || len(ev) != 3 {
			continue // the header line
		}
		if code, _ := ev[1].(string); code == "o" {
			s, _ := ev[2].(string)
			b.WriteString(s)
		}
	}
	return b.String()
}

func get(ctx context.Context, t *testing.T, c *http.Client, u string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var b strings.Builder
	if _, err := bufio.NewReader(resp.Body).WriteTo(&b); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", u, resp.Status, b.String())
	}
	return b.String()
}

// TestPickPortFallsBack: a busy preferred port gives another free one.
func TestPickPortFallsBack(t *testing.T) {
	busy, err := pickPort(0)
	if err != nil {
		t.Fatal(err)
	}
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:"+strconv.Itoa(busy))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	got, err := pickPort(busy)
	if err != nil || got == busy || got == 0 {
		t.Errorf("pickPort(%d) = %d, %v; want another free port", busy, got, err)
	}
}
