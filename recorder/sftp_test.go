package recorder

import (
	"context"
	"io"
	"os"
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
// recorder, as the proxy's bridge passes them.
func TestManagerSFTP(t *testing.T) {
	f := newManagerFixture(t, nil)
	info := shellInfo()
	info.Kind, info.Command, info.PTY, info.Term = KindSFTP, "sftp", false, ""
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
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "secret data") {
		t.Error("file contents recorded in an sftp cast")
	}
	h, evs := asciicasttest.ReadAll(t, strings.NewReader(string(raw)))
	if h.Command != "sftp" {
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

// recordFunc adapts Session.Input/Output to io.Writer for io.TeeReader.
type recordFunc func([]byte) error

func (f recordFunc) Write(p []byte) (int, error) {
	if err := f(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func TestSFTPParserSplitsAndJunk(t *testing.T) {
	var got []string
	p := newSFTPParser(func(l string) { got = append(got, l) })
	pkt := func(typ byte, fields ...string) []byte {
		body := []byte{typ, 0, 0, 0, 7}
		for _, f := range fields {
			body = append(body, byte(len(f)>>24), byte(len(f)>>16), byte(len(f)>>8), byte(len(f)))
			body = append(body, f...)
		}
		n := len(body)
		return append([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, body...)
	}
	var stream []byte
	stream = append(stream, pkt(sftpRemove, "/a")...)
	stream = append(stream, pkt(6, "handle", strings.Repeat("x", 100000))...) // WRITE: skipped
	stream = append(stream, []byte{0, 0, 0, 5, sftpRmdir, 0, 0, 0, 1}...)     // short: no marker
	stream = append(stream, pkt(sftpMkdir, "/b")...)
	for _, b := range stream { // one byte at a time
		p.feed([]byte{b})
	}
	if strings.Join(got, "|") != `sftp remove "/a"|sftp mkdir "/b"` {
		t.Errorf("markers %q", got)
	}
}
