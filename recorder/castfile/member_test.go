package castfile

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

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

// With more Writers printing at once than maxKept, the process holds at
// most maxKept compressors between writes (each Writer past the bound
// gives its own back after every write), and every Writer's file still
// decodes to exactly its lines, within 5 % of the size it has when
// alone.
func TestWritersBoundTheCompressorsHeld(t *testing.T) {
	if n := borrowed.Load(); n != 0 {
		t.Fatalf("%d compressors borrowed before the test", n)
	}
	rng := rand.New(rand.NewPCG(7, 9))
	header := []byte(`{"version":2,"width":80,"height":24}` + "\n")
	var lines [][]byte
	for i := range 2000 {
		lines = append(lines, fmt.Appendf(nil, "[%d.%03d,\"o\",\"%s request id=%04x status=%d\\r\\n\"]\n",
			i/100, i%100*10, []string{"GET /v1/items", "POST /v1/orders", "GET /healthz"}[rng.IntN(3)], rng.IntN(1<<16), []int{200, 201, 404}[rng.IntN(3)]))
	}
	want := append(bytes.Clone(header), bytes.Join(lines, nil)...)
	n := int(maxKept) * 3
	data := make([]*bytes.Buffer, n)
	ws := make([]*Writer, n)
	for i := range ws {
		data[i] = &bytes.Buffer{}
		ws[i] = NewWriter(data[i], io.Discard, asciicast.Header{Width: 80, Height: 24})
		if _, err := ws[i].Write(header); err != nil {
			t.Fatal(err)
		}
	}
	most := int64(0)
	for at := 0; at < len(lines); at += 20 { // each Writer in turn writes a flush of 20 lines
		for _, w := range ws {
			if _, err := w.Write(bytes.Join(lines[at:min(at+20, len(lines))], nil)); err != nil {
				t.Fatal(err)
			}
			most = max(most, borrowed.Load())
		}
	}
	if most > maxKept {
		t.Errorf("%d Writers held up to %d compressors between writes, bound %d", n, most, maxKept)
	}
	for _, w := range ws {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if b := borrowed.Load(); b != 0 {
		t.Errorf("%d compressors still borrowed after every Writer closed", b)
	}
	var alone bytes.Buffer
	w := NewWriter(&alone, io.Discard, asciicast.Header{Width: 80, Height: 24})
	_, _ = w.Write(header)
	for at := 0; at < len(lines); at += 20 {
		_, _ = w.Write(bytes.Join(lines[at:min(at+20, len(lines))], nil))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for i, d := range data {
		z, err := gzip.NewReader(bytes.NewReader(d.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(z)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Writer %d: decoded %d bytes (%v), want %d", i, len(got), err, len(want))
		}
	}
	last := data[n-1].Len() // one that gave its compressor back at every write
	t.Logf("stored: %d bytes alone, %d giving the compressor back at every write", alone.Len(), last)
	if loss := float64(last)/float64(alone.Len()) - 1; loss > 0.05 {
		t.Errorf("giving the compressor back at every write: %d bytes, against %d alone (%.1f%% more)", last, alone.Len(), loss*100)
	}
}

// BenchmarkParallelWriters: 50 Writers compressing text at once, as 50
// sessions printing through PTYs; reports the peak heap in use, with the
// bound on kept compressors and without it.
func BenchmarkParallelWriters(b *testing.B) {
	text := bytes.Repeat([]byte(`[1.5,"o","2026-12-05T04:40:00Z api[1234]: GET /v1/items/42 status=200 latency=3ms\r\n"]`+"\n"), 700)
	for _, bound := range []bool{true, false} {
		b.Run(fmt.Sprintf("bound=%v", bound), func(b *testing.B) {
			if !bound {
				old := maxKept
				maxKept = 1 << 30
				defer func() { maxKept = old }()
			}
			var peak uint64
			for range b.N {
				runtime.GC()
				done := make(chan struct{})
				sampled := make(chan uint64)
				go func() {
					var ms runtime.MemStats
					most := uint64(0)
					for {
						runtime.ReadMemStats(&ms)
						most = max(most, ms.HeapInuse)
						select {
						case <-done:
							sampled <- most
							return
						case <-time.After(2 * time.Millisecond):
						}
					}
				}()
				var wg sync.WaitGroup
				for range 50 {
					wg.Go(func() {
						w := NewWriter(io.Discard, io.Discard, asciicast.Header{Width: 80, Height: 24})
						_, _ = w.Write([]byte(`{"version":2,"width":80,"height":24}` + "\n"))
						for range 40 {
							_, _ = w.Write(text)
							runtime.Gosched()
						}
						_ = w.Close()
					})
				}
				wg.Wait()
				close(done)
				peak = max(peak, <-sampled)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}
