//go:build faults

package faulttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/config"
	wiring "github.com/jumpcast/jumpcast/internal/bastion"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	"github.com/jumpcast/jumpcast/proxy"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/castfile"
	"github.com/jumpcast/jumpcast/store"
)

// bastion is jumpcast wired in process by bastion.New, as `jumpcast serve`
// wires it: the proxy on 127.0.0.1:0, the recorder's Manager writing into
// a real recordings folder, and a real bbolt index, in front of an
// in-process target (a real PTY and /bin/sh per session). alice may reach
// alias "t1" as root.
type bastion struct {
	t       testing.TB
	srv     *proxy.Server
	addr    string
	hostKey gossh.PublicKey
	admin   *sshtest.KeyPair
	target  *sshtest.Target
	store   store.Index
	dir     *recorder.Dir
	recDir  string
	logs    *sshtest.SyncBuffer // warnings and errors of the bastion
}

// bastionOpts changes newBastion's defaults.
type bastionOpts struct {
	config func(*config.Config) // edits the config before the server starts
	noSync bool                 // the index skips fsync (where fsync is not what is tested)
}

func newBastion(t testing.TB, o bastionOpts) *bastion {
	t.Helper()
	b := &bastion{t: t, admin: sshtest.NewKeyPair(t), logs: &sshtest.SyncBuffer{}}
	id := sshtest.NewKeyPair(t)
	b.target = sshtest.NewTarget(t, sshtest.TargetOptions{AuthorizedKeys: []gossh.PublicKey{id.Public}})
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
users:
  alice:
    keys: [%q]
    allow:
      - targets: ["t1"]
        as: ["root"]
targets:
  t1:
    address: %q
`, b.admin.AuthorizedLine, b.target.Addr)), "faulttest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = filepath.Join(t.TempDir(), "data") // made 0700 by jumpcast: a TempDir is 0755
	cfg.SSH.MaxUnauthenticated = 512
	cfg.Upstream.IdentityFiles = []string{id.PrivatePath}
	cfg.Recording.MinFreeSpace = 0 // what these tests fill is memory and the index, not the disk
	if o.config != nil {
		o.config(cfg)
	}
	level := slog.LevelWarn
	if os.Getenv("FAULTTEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: level}))
	bst, err := wiring.New(cfg, wiring.Options{Logger: logger, NoSync: o.noSync})
	if err != nil {
		t.Fatal(err)
	}
	b.srv, b.store, b.dir = bst.Proxy, bst.Store, bst.Dir
	b.recDir = wiring.RecordingsPath(cfg)
	b.hostKey = bst.HostKeys[0].PublicKey()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- b.srv.Serve(ln) }() // owner: the bastion; ends at Close
	t.Cleanup(func() {
		_ = b.srv.Close()
		if err := <-served; !errors.Is(err, proxy.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		_ = bst.Close()
		if t.Failed() {
			t.Logf("bastion warnings:\n%s", b.logs.String())
		}
	})
	return b
}

// dial connects alice to the bastion as login, bounded to 20 s.
func (b *bastion) dial(login string) (*gossh.Client, error) {
	conn, err := net.DialTimeout("tcp", b.addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial bastion: %w", err)
	}
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	cc, chans, reqs, err := gossh.NewClientConn(conn, b.addr, &gossh.ClientConfig{
		User: login, Auth: []gossh.AuthMethod{gossh.PublicKeys(b.admin.Signer)},
		HostKeyCallback: gossh.FixedHostKey(b.hostKey),
	})
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("handshake with bastion: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	return gossh.NewClient(cc, chans, reqs), nil
}

// castPath is the file of an index row.
func (b *bastion) castPath(r recording.Meta) string {
	return filepath.Join(b.recDir, filepath.FromSlash(r.Path))
}

// allRecordings pages through the whole index, oldest first.
func allRecordings(ctx context.Context, st store.Index) ([]recording.Meta, error) {
	var out []recording.Meta
	f := store.Filter{Asc: true, Limit: 500}
	for {
		p, err := st.ListRecordings(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		if p.Next == "" {
			return out, nil
		}
		f.Cursor = p.Next
	}
}

// waitFinalized waits until the index has no active recording: a
// recording is finalized just after its client saw the session end.
func (b *bastion) waitFinalized(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		active, err := b.store.ActiveRecordings(ctx)
		if err != nil {
			return fmt.Errorf("%d recordings still active: %w", len(active), err)
		}
		if len(active) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d recordings still active after 60s: %w", len(active), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ptyReq is the payload of "pty-req" (RFC 4254 6.2).
type ptyReq struct {
	Term          string
	Columns, Rows uint32
	Width, Height uint32
	Modes         string
}

// windowChange is the payload of "window-change" (RFC 4254 6.7).
type windowChange struct {
	Columns, Rows, Width, Height uint32
}

// rawModes are terminal modes for a PTY that passes output through
// unchanged (no output processing). Input is echoed whatever a client asks:
// the bastion keeps ECHO on (proxy/termmodes.go).
func rawModes() string {
	var b bytes.Buffer
	for _, m := range [][2]uint32{{gossh.OPOST, 0}} {
		b.WriteByte(byte(m[0]))
		b.Write([]byte{byte(m[1] >> 24), byte(m[1] >> 16), byte(m[1] >> 8), byte(m[1])})
	}
	b.WriteByte(0) // TTY_OP_END
	return b.String()
}

// exitStatus waits for the channel's requests to end and returns the exit
// status it carried, or -1 when there was none.
func exitStatus(reqs <-chan *gossh.Request) int {
	code := -1
	for r := range reqs {
		if r.Type == "exit-status" && len(r.Payload) == 4 {
			code = int(uint32(r.Payload[0])<<24 | uint32(r.Payload[1])<<16 | uint32(r.Payload[2])<<8 | uint32(r.Payload[3]))
		}
		if r.WantReply {
			_ = r.Reply(false, nil)
		}
	}
	return code
}

// castOutput decodes a recording file, raw or compressed: its header, the
// concatenated data of its "o" events and the sizes of its "r" events.
func castOutput(path string) (asciicast.Header, []byte, [][2]int, error) {
	f, err := castfile.OpenPlain(fileOpener{}, path)
	if err != nil {
		return asciicast.Header{}, nil, nil, err
	}
	defer func() { _ = f.Close() }()
	r, err := asciicast.NewReader(f)
	if err != nil {
		return asciicast.Header{}, nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var out bytes.Buffer
	var sizes [][2]int
	for {
		ev, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return r.Header(), out.Bytes(), sizes, nil
			}
			return r.Header(), out.Bytes(), sizes, fmt.Errorf("%s: %w", path, err)
		}
		switch ev.Code {
		case asciicast.CodeOutput:
			out.WriteString(ev.Data)
		case asciicast.CodeResize:
			w, h, err := asciicast.ParseResize(ev.Data)
			if err != nil {
				return r.Header(), out.Bytes(), sizes, fmt.Errorf("%s: bad r event %q: %w", path, ev.Data, err)
			}
			sizes = append(sizes, [2]int{w, h})
		}
	}
}

// rssMB returns this process's resident set size in MiB after a GC that
// gives free memory back to the OS.
func rssMB(t testing.TB) float64 {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	return procRSSMB(t, "self")
}

// procRSSMB reads VmRSS of /proc/<pid>/status, in MiB.
func procRSSMB(t testing.TB, pid string) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatalf("read /proc/%s/status: %v", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatalf("VmRSS line %q: %v", line, err)
			}
			return float64(kb) / 1024
		}
	}
	t.Fatalf("no VmRSS in /proc/%s/status", pid)
	return 0
}

// fileOpener opens recording files by their full path, for castfile.
type fileOpener struct{}

func (fileOpener) Open(path string) (castfile.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return f, nil
}
