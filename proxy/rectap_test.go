package proxy

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// chunkedReader returns its data in reads of the given sizes (cycled), as
// an SSH channel does: a keystroke, a line, a full packet.
type chunkedReader struct {
	data  []byte
	sizes []int
	i     int
}

func (r *chunkedReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(r.sizes[r.i%len(r.sizes)], len(p), len(r.data))
	r.i++
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// TestCopyTappedExact: whatever the read sizes (below, at and above the
// small buffer, full packets), the destination and the tap both get the
// source byte for byte, through io.Copy as the bridge calls it.
func TestCopyTappedExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, c := range []struct {
		name  string
		sizes []int
	}{
		{"keystrokes", []int{1, 3, 1}},
		{"lines", []int{80, 2047, 2048, 2049}},
		{"packets", []int{32 << 10}},
		{"mixed", []int{1, 32 << 10, 32 << 10, 100, 2048, 32 << 10, 5000, 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, reader := range []bool{false, true} {
				var dst, tapped bytes.Buffer
				src := &chunkedReader{data: data, sizes: c.sizes}
				var n int64
				var err error
				if reader {
					n, err = io.Copy(&dst, tapReader{r: src, tap: func(p []byte) { tapped.Write(p) }})
				} else {
					n, err = io.Copy(tapWriter{w: &dst, tap: func(p []byte) { tapped.Write(p) }}, src)
				}
				if err != nil || n != int64(len(data)) || !bytes.Equal(dst.Bytes(), data) || !bytes.Equal(tapped.Bytes(), data) {
					t.Errorf("reader side %v: n=%d err=%v, dst equal %v, tap equal %v", reader, n, err,
						bytes.Equal(dst.Bytes(), data), bytes.Equal(tapped.Bytes(), data))
				}
			}
		})
	}
}

// TestCopyTappedTapsFirst: every chunk reaches the tap before the
// destination, whichever side of io.Copy the tap is on: what the peer
// answers to a chunk is recorded after it.
func TestCopyTappedTapsFirst(t *testing.T) {
	for _, reader := range []bool{false, true} {
		var tapped bytes.Buffer
		dst := writerFunc(func(p []byte) (int, error) {
			if !bytes.HasSuffix(tapped.Bytes(), p) {
				t.Errorf("reader side %v: %d bytes written before the tap saw them", reader, len(p))
			}
			return len(p), nil
		})
		src := &chunkedReader{data: bytes.Repeat([]byte("abcdefg"), 10000), sizes: []int{1, 2048, 32 << 10, 7}}
		tap := func(p []byte) { tapped.Write(p) }
		var err error
		if reader {
			_, err = io.Copy(dst, tapReader{r: src, tap: tap})
		} else {
			_, err = io.Copy(tapWriter{w: dst, tap: tap}, src)
		}
		if err != nil || tapped.Len() != 70000 {
			t.Errorf("reader side %v: tapped %d bytes, err %v", reader, tapped.Len(), err)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// shortWriter accepts at most n bytes in all.
type shortWriter struct{ n int }

func (w *shortWriter) Write(p []byte) (int, error) {
	k := min(len(p), w.n)
	w.n -= k
	if k < len(p) {
		return k, errors.New("disk full")
	}
	return k, nil
}

// TestCopyTappedErrors: a failed write stops the copy (the tap has seen
// the chunk it failed on); a read error is returned, EOF is not.
func TestCopyTappedErrors(t *testing.T) {
	var tapped int
	n, err := io.Copy(tapWriter{w: &shortWriter{n: 5000}, tap: func(p []byte) { tapped += len(p) }},
		&chunkedReader{data: make([]byte, 100000), sizes: []int{3000}})
	if err == nil || n != 5000 || tapped <= 5000 || tapped > 5000+3000 {
		t.Errorf("short write: n=%d tapped=%d err=%v", n, tapped, err)
	}
	boom := errors.New("boom")
	n, err = io.Copy(tapWriter{w: io.Discard, tap: func([]byte) {}}, iotest.TimeoutReader(&chunkedReader{data: make([]byte, 10), sizes: []int{4}}))
	if !errors.Is(err, iotest.ErrTimeout) || n != 4 {
		t.Errorf("read error: n=%d err=%v", n, err)
	}
	_, err = io.Copy(io.Discard, tapReader{r: iotest.ErrReader(boom), tap: func([]byte) {}})
	if !errors.Is(err, boom) {
		t.Errorf("read error through tapReader: %v", err)
	}
}

// BenchmarkCopyTapped is the bridge's copy loop on full 32 KiB packets
// and on 100-byte lines (allocations per copy, not per read).
func BenchmarkCopyTapped(b *testing.B) {
	for _, c := range []struct {
		name string
		size int
	}{{"packets", 32 << 10}, {"lines", 100}} {
		b.Run(c.name, func(b *testing.B) {
			data := make([]byte, 4<<20)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := io.Copy(tapWriter{w: io.Discard, tap: func([]byte) {}}, &chunkedReader{data: data, sizes: []int{c.size}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
