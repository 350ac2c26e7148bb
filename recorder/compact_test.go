package recorder

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
	"github.com/jumpcast/jumpcast/recorder/castfile"
)

// TestDirArchive: a closed compressed recording becomes an archived one
// that decodes to the same stream, replacing what an interrupted archive
// left; a path that is not the id's compressed recording is refused; and
// Remove takes the archived file and its index.
func TestDirArchive(t *testing.T) {
	base := t.TempDir()
	d := openTestDir(t, base)
	id := recording.NewID(time.Now())
	data, idx, gz, err := d.CreateCompressed(id)
	if err != nil {
		t.Fatal(err)
	}
	var now time.Duration
	cw := castfile.NewWriter(data, idx, asciicast.Header{Width: 80, Height: 24})
	w, err := asciicast.NewWriter(cw, asciicast.Header{Width: 80, Height: 24}, asciicast.WriterOptions{Clock: func() time.Duration { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		now += 20 * time.Millisecond
		if err := w.Output([]byte(strings.Repeat("journal line ", 1+i%7) + "\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(asciicast.Exit{}); err != nil {
		t.Fatal(err)
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	_, _ = data.Close(), idx.Close()
	want := asciicasttest.ReadFile(t, filepath.Join(base, gz))

	zst := strings.TrimSuffix(gz, ".gz") + ".zst"
	for _, stale := range []string{zst, castfile.IndexPath(zst)} { // an archive killed half-way
		if err := os.WriteFile(filepath.Join(base, stale), []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Archive(id, strings.TrimSuffix(gz, ".gz")); err == nil {
		t.Error("archiving the raw path of a compressed recording: no error")
	}
	if _, err := d.Archive(recording.NewID(time.Now()), gz); err == nil {
		t.Error("archiving another id's recording: no error")
	}
	c, err := d.Archive(id, gz)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != zst {
		t.Fatalf("archived to %s, want %s", c.Path, zst)
	}
	if got := asciicasttest.ReadFile(t, filepath.Join(base, zst)); !bytes.Equal(got, want) { // Debian's zstdcat
		t.Errorf("the archived file decodes to %d bytes, not the %d of the compressed one", len(got), len(want))
	}
	f, err := d.Open(zst)
	if err != nil {
		t.Fatal(err)
	}
	sum, size, err := HashFile(f)
	_ = f.Close()
	if err != nil || sum != c.SHA256 || size != c.Size {
		t.Errorf("Compacted says %s, %d bytes; the file is %s, %d bytes (%v)", c.SHA256, c.Size, sum, size, err)
	}
	gzInfo, _ := os.Stat(filepath.Join(base, gz))
	if c.Size >= gzInfo.Size() {
		t.Errorf("archived %d bytes, compressed %d", c.Size, gzInfo.Size())
	}
	if err := d.Remove(zst); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{zst, castfile.IndexPath(zst)} {
		if _, err := os.Stat(filepath.Join(base, gone)); !os.IsNotExist(err) {
			t.Errorf("%s after Remove: %v", gone, err)
		}
	}
}

// TestLowerThreadPriority: the thread Archive works on runs at nice 19,
// and the other threads keep their priority.
func TestLowerThreadPriority(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread priorities are Linux's")
	}
	nice := func() string {
		b, err := os.ReadFile("/proc/thread-self/stat")
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		return f[16] // field 19, nice, counted after the command's ')'
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := nice()
	got := make(chan string, 1)
	go func() {
		runtime.LockOSThread()
		lowerThreadPriority()
		got <- nice()
	}()
	if n := <-got; n != "19" {
		t.Errorf("lowered thread: nice %s, want 19", n)
	}
	if n := nice(); n != before {
		t.Errorf("this thread went from nice %s to %s", before, n)
	}
}
