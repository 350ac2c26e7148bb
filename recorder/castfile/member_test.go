package castfile

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// A Writer told Quiet between flushes gives its compressor back and still
// writes one valid gzip stream: the standard library's reader (what zcat
// does) decodes it to exactly the lines written, the Reader reads every
// event, and the storage ratio stays within 2 % of a Writer that kept its
// compressor.
func TestWriterQuietGivesTheCompressorBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	header := []byte(`{"version":2,"width":80,"height":24}` + "\n")
	var lines [][]byte
	for i := range 3000 {
		// top-like screens: mostly the same text, some numbers change.
		s := fmt.Sprintf("[%d.%06d,\"o\",\"\\u001b[H load %d.%02d  tasks %d  mem %d MiB\\r\\n%s\"]\n",
			i/10, i%10*100000, rng.IntN(4), rng.IntN(100), 90+rng.IntN(20), 900+rng.IntN(200),
			bytes.Repeat([]byte("  PID USER  %CPU COMMAND bash sshd cron\\r\\n"), 1+rng.IntN(30)))
		lines = append(lines, []byte(s))
	}
	write := func(quiet bool) (data, index []byte) {
		var d, idx bytes.Buffer
		w := NewWriter(&d, &idx, asciicast.Header{Width: 80, Height: 24})
		if _, err := w.Write(header); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(lines); {
			n := 1 + rng.IntN(8) // a flush holds a few events
			var p []byte
			for ; n > 0 && i < len(lines); n-- {
				p = append(p, lines[i]...)
				i++
			}
			if _, err := w.Write(p); err != nil {
				t.Fatal(err)
			}
			if quiet {
				w.Quiet()
				if w.z.fw != nil {
					t.Fatal("Quiet kept the compressor")
				}
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return d.Bytes(), idx.Bytes()
	}
	kept, _ := write(false)
	quiet, quietIdx := write(true)
	want := append(bytes.Clone(header), bytes.Join(lines, nil)...)
	for name, data := range map[string][]byte{"kept": kept, "quiet": quiet} {
		z, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(z)
		if err != nil {
			t.Fatalf("%s: gzip: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: decoded %d bytes, want %d", name, len(got), len(want))
		}
	}
	t.Logf("stored: %d bytes kept, %d released between flushes", len(kept), len(quiet))
	if loss := float64(len(quiet))/float64(len(kept)) - 1; loss > 0.02 {
		t.Errorf("released between flushes: %d bytes stored, against %d kept (%.1f%% more)", len(quiet), len(kept), loss*100)
	}
	// The Reader reads the quiet file whole, through its index.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.cast.gz"), quiet, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "r.cast.idx"), quietIdx, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dirOpener(dir), "r.cast.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	if n := len(readAll(t, r)); n != len(lines) {
		t.Fatalf("the Reader read %d events, want %d", n, len(lines))
	}
}
