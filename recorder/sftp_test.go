package recorder

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkg/sftp"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

// teeConn joins a reader and a writer into the io.ReadWriteCloser the sftp
// server wants.
type teeConn struct {
	io.Reader
	io.WriteCloser
}

// TestManagerSFTP runs a real sftp client against a real sftp server
// (github.com/pkg/sftp) with the session's streams passing through the
// recorder, as the proxy's bridge passes them, started as the sftp
// subsystem and as an exec of sftp-server: both are recorded as file
// operations.
func TestManagerSFTP(t *testing.T) {
	for _, tt := range []struct{ kind, command string }{
		{KindSFTP, "sftp"}, {KindExec, "/usr/lib/openssh/sftp-server"}, {KindOther, "sftp\x00x"},
	} {
		t.Run(tt.kind, func(t *testing.T) { testManagerSFTP(t, tt.kind, tt.command) })
	}
}

func testManagerSFTP(t *testing.T, kind, command string) {
	f := newManagerFixture(t, nil)
	info := shellInfo()
	info.Kind, info.Command, info.PTY, info.Term = kind, command, false, ""
	s, err := f.m.Start(context.Background(), info)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	c2sR, c2sW := io.Pipe() // client → server
	s2cR, s2cW := io.Pipe() // server → client
	srv, err := sftp.NewServer(teeConn{io.TeeReader(c2sR, recordFunc(s.Input)), s2cW}, sftp.WithServerWorkingDirectory(work))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }() // owned by this test; ends when the client closes
	cl, err := sftp.NewClientPipe(io.TeeReader(s2cR, recordFunc(s.Output)), c2sW)
	if err != nil {
		t.Fatal(err)
	}
	must(t, cl.Mkdir("dir"))
	fh, err := cl.Create("dir/notes \x1b[31m.txt")
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.Repeat("secret data ", 10000)
	if _, err := fh.Write([]byte(payload)); err != nil {
		t.Fatal(err)
	}
	must(t, fh.Close())
	must(t, cl.Rename("dir/notes \x1b[31m.txt", "dir/b.txt"))
	must(t, cl.PosixRename("dir/b.txt", "dir/c.txt"))
	must(t, cl.Chmod("dir/c.txt", 0o640))
	must(t, cl.Remove("dir/c.txt"))
	must(t, cl.RemoveDirectory("dir"))
	_ = c2sW.Close() // EOF to the server: Serve returns
	<-served
	_ = s2cW.Close() // EOF to the client: Close returns
	_ = cl.Close()
	must(t, s.Close(context.Background(), asciicast.Exit{HasStatus: true}))

	fin := f.index.finished[testID]
	if fin.BytesIn < int64(len(payload)) || fin.BytesOut == 0 || fin.Status != recording.StatusFinished {
		t.Errorf("record %+v", fin)
	}
	path := filepath.Join(f.base, fin.Path)
	raw := asciicasttest.ReadFile(t, path)
	if strings.Contains(string(raw), "secret data") {
		t.Error("file contents recorded in an sftp cast")
	}
	h, evs := asciicasttest.ReadAll(t, strings.NewReader(string(raw)))
	if h.Command != command {
		t.Errorf("header %+v", h)
	}
	var markers []string
	for _, ev := range evs {
		if ev.Code == asciicast.CodeMarker {
			markers = append(markers, ev.Data)
		}
	}
	want := []string{
		`sftp mkdir "dir"`,
		`sftp open "dir/notes \x1b[31m.txt" (read,write,create,truncate)`,
		`sftp rename "dir/notes \x1b[31m.txt" -> "dir/b.txt"`,
		`sftp rename "dir/b.txt" -> "dir/c.txt"`,
		`sftp setstat "dir/c.txt"`,
		`sftp remove "dir/c.txt"`,
		`sftp rmdir "dir"`,
	}
	if len(markers) != len(want)+1 || !strings.HasPrefix(markers[len(markers)-1], "[sftp: ") {
		t.Fatalf("markers %q", markers)
	}
	for i, w := range want {
		if markers[i] != w {
			t.Errorf("marker %d = %q, want %q", i, markers[i], w)
		}
	}
	asciicasttest.AsciinemaCat(t, path)
}

// TestManagerFakeSFTPInit: an SFTP INIT sent to a shell, then commands:
// the commands, their output and a marker saying why are recorded.
func TestManagerFakeSFTPInit(t *testing.T) {
	f := newManagerFixture(t, nil)
	info := shellInfo()
	info.Kind, info.Command, info.PTY, info.Term, info.RecordInput = KindExec, "bash", false, "", true
	s, err := f.m.Start(context.Background(), info)
	if err != nil {
		t.Fatal(err)
	}
	must(t, s.Input([]byte{0, 0, 0, 5, sftpInit, 0, 0, 0, 3}))
	must(t, s.Input([]byte("touch /tmp/unrecorded\n")))
	must(t, s.Output([]byte("bash: line 1: $'\\005\\001\\003': command not found\n")))
	must(t, s.Close(context.Background(), asciicast.Exit{HasStatus: true}))
	raw := asciicasttest.ReadFile(t, filepath.Join(f.base, f.index.finished[testID].Path))
	_, evs := asciicasttest.ReadAll(t, bytes.NewReader(raw))
	if in := asciicasttest.Joined(evs, asciicast.CodeInput); !strings.Contains(in, "touch /tmp/unrecorded\n") {
		t.Errorf("input %q lacks the command", in)
	}
	if out := asciicasttest.Joined(evs, asciicast.CodeOutput); !strings.Contains(out, "command not found") {
		t.Errorf("output %q", out)
	}
	if m := asciicasttest.Joined(evs, asciicast.CodeMarker); !strings.Contains(m, "[sftp ends: input is not SFTP") {
		t.Errorf("markers %q", m)
	}
}

// recordFunc adapts Session.Input/Output to io.Writer for io.TeeReader.
type recordFunc func([]byte) error

func (f recordFunc) Write(p []byte) (int, error) {
	if err := f(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// watchLog records what an sftpWatch reports, one entry per call:
// "m LABEL", "i BYTES" or "o BYTES" (adjacent data of one stream joined).
type watchLog struct{ entries []string }

func (l *watchLog) marker(label string) { l.entries = append(l.entries, "m "+label) }

func (l *watchLog) data(output bool, p []byte) {
	if len(p) == 0 {
		return
	}
	code := "i "
	if output {
		code = "o "
	}
	if n := len(l.entries); n > 0 && strings.HasPrefix(l.entries[n-1], code) {
		l.entries[n-1] += string(p)
		return
	}
	l.entries = append(l.entries, code+string(p))
}

// TestSFTPWatch: what a session's streams are recorded as, whatever
// started the session: SFTP from an INIT on, with markers for file
// operations; as they are when they do not start with an INIT; and as
// they are, from the first packet that is not SFTP, when they stop being
// SFTP, however the bytes were cut.
func TestSFTPWatch(t *testing.T) {
	initV3 := []byte{0, 0, 0, 5, sftpInit, 0, 0, 0, 3}
	version := []byte{0, 0, 0, 5, sftpVersion, 0, 0, 0, 3}
	status := []byte{0, 0, 0, 9, 101, 0, 0, 0, 7, 0, 0, 0, 0}
	in := func(b ...[]byte) step { return step{false, bytes.Join(b, nil)} }
	out := func(b ...[]byte) step { return step{true, bytes.Join(b, nil)} }
	for _, tt := range []struct {
		name  string
		steps []step
		want  []string
	}{
		{"a shell: output first", []step{out([]byte("$ ")), in([]byte{0, 0, 0, 5, 1}), out([]byte("x"))},
			[]string{"o $ ", "i \x00\x00\x00\x05\x01", "o x"}},
		{"commands on stdin", []step{in([]byte("echo hi\n")), out([]byte("hi\n"))}, []string{"i echo hi\n", "o hi\n"}},
		{"the start of an INIT, then output", []step{in([]byte{0, 0}), out([]byte("bash: x\n"))}, []string{"i \x00\x00", "o bash: x\n"}},
		{"an INIT too long", []step{in([]byte{0, 0, 0x10, 0, 1, 0, 0, 0, 3})}, []string{"i \x00\x00\x10\x00\x01\x00\x00\x00\x03"}},
		{"sftp", []step{in(initV3), out(version), in(sftpPacket(sftpRemove, "/a")), out(status),
			in(sftpPacket(6, "handle", strings.Repeat("x", 100000))), out(status), in(sftpPacket(sftpMkdir, "/b"))},
			[]string{`m sftp remove "/a"`, `m sftp mkdir "/b"`}},
		{"a fake INIT, then commands", []step{in(initV3), in([]byte("id; touch /tmp/x\n")), out([]byte("uid=0(root)\n"))},
			[]string{"m [sftp ends: input is not SFTP (packet type 116); the rest is recorded as it is]",
				"i id; touch /tmp/x\n", "o uid=0(root)\n"}},
		{"a fake INIT, then commands in a WRITE", []step{in(initV3), in(sftpPacket(6, "h", "\nid\n"))},
			[]string{"m [sftp ends: input is not SFTP (a request before the server's version); the rest is recorded as it is]",
				"i " + string(sftpPacket(6, "h", "\nid\n"))}},
		{"a fake INIT, a short command, its output", []step{in(initV3), in([]byte("id\n")), out([]byte("uid=0(root)\n"))},
			[]string{"m [sftp ends: output is not SFTP (first packet of type 48); the rest is recorded as it is]",
				"i id\n", "o uid=0(root)\n"}},
		{"a fake INIT, a short command, nothing more", []step{in(initV3), in([]byte("w\n"))},
			[]string{"m [sftp ends: the session ended inside a packet header; its bytes follow]", "i w\n"}},
		{"a fake INIT and VERSION, then commands", []step{in(initV3), out(version), in([]byte("rm -rf /tmp/x\n"))},
			[]string{"m [sftp ends: input is not SFTP (packet type 114); the rest is recorded as it is]", "i rm -rf /tmp/x\n"}},
		{"an absurd length", []step{in(initV3), out(version), in([]byte{0, 0x10, 0, 0, sftpOpen, 1, 2})},
			[]string{"m [sftp ends: input is not SFTP (packet length 1048576); the rest is recorded as it is]", "i \x00\x10\x00\x00\x03\x01\x02"}},
		{"a second INIT", []step{in(initV3), out(version), in(initV3)},
			[]string{"m [sftp ends: input is not SFTP (packet type 1); the rest is recorded as it is]", "i \x00\x00\x00\x05\x01\x00\x00\x00\x03"}},
		{"the server stops speaking sftp", []step{in(initV3), out(version), in(sftpPacket(sftpRemove, "/a")), out([]byte("oops\n")), in([]byte("ls\n"))},
			[]string{`m sftp remove "/a"`, "m [sftp ends: output is not SFTP (packet type 10); the rest is recorded as it is]",
				"o oops\n", "i ls\n"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, bytewise := range []bool{false, true} {
				w := newSFTPWatch()
				var log watchLog
				for _, st := range tt.steps {
					if !bytewise {
						w.feed(st.output, st.data, &log)
						continue
					}
					for i := range st.data {
						w.feed(st.output, st.data[i:i+1], &log)
					}
				}
				w.end(&log)
				if got := log.entries; strings.Join(got, "|") != strings.Join(tt.want, "|") {
					t.Errorf("byte by byte %v:\n got %q\nwant %q", bytewise, got, tt.want)
				}
			}
		})
	}
}

type step struct {
	output bool
	data   []byte
}
