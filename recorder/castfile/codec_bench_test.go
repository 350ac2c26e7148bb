package castfile

import (
	"bytes"
	stdgzip "compress/gzip"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// codec is one way to compress a chunk as the Writer does: flush after
// every write (durability), close at the chunk's end (an independent
// member or frame).
type codec struct {
	name string
	new  func(w io.Writer) (flushCloser, func(io.Writer))
}

type flushCloser interface {
	io.Writer
	Flush() error
	Close() error
}

var codecs = []codec{
	{"gzip-std-1", func(w io.Writer) (flushCloser, func(io.Writer)) {
		z, _ := stdgzip.NewWriterLevel(w, stdgzip.BestSpeed)
		return z, z.Reset
	}},
	{"gzip-klauspost-1", func(w io.Writer) (flushCloser, func(io.Writer)) {
		z, _ := kgzip.NewWriterLevel(w, kgzip.BestSpeed)
		return z, z.Reset
	}},
	{"gzip-klauspost-6", func(w io.Writer) (flushCloser, func(io.Writer)) {
		z, _ := kgzip.NewWriterLevel(w, 6)
		return z, z.Reset
	}},
	{"zstd-fastest", func(w io.Writer) (flushCloser, func(io.Writer)) {
		z, _ := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
		return z, z.Reset
	}},
	{"zstd-default", func(w io.Writer) (flushCloser, func(io.Writer)) {
		z, _ := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
		return z, z.Reset
	}},
	{"zstd-better", func(w io.Writer) (flushCloser, func(io.Writer)) {
		z, _ := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
		return z, z.Reset
	}},
}

// castStream is logOutput as asciicast event lines, in the 64 KiB blocks
// a session's flushes hand the Writer; or, with JUMPCAST_CORPUS naming a
// text file, that text as a PTY delivers it (see BenchmarkRecordCorpus).
func castStream(b *testing.B) [][]byte {
	var buf bytes.Buffer
	var now time.Duration
	w, err := asciicast.NewWriter(&buf, asciicast.Header{Width: 200, Height: 50}, asciicast.WriterOptions{Clock: func() time.Duration { return now }})
	if err != nil {
		b.Fatal(err)
	}
	outputs, step := logOutput(64), 50*time.Millisecond
	if path := os.Getenv("JUMPCAST_CORPUS"); path != "" {
		text, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		text = bytes.ReplaceAll(text, []byte("\n"), []byte("\r\n"))
		outputs, step = nil, 2*time.Millisecond
		for off := 0; off < len(text); off += 4 << 10 {
			outputs = append(outputs, text[off:min(off+4<<10, len(text))])
		}
	}
	for _, p := range outputs {
		now += step
		if err := w.Output(p); err != nil {
			b.Fatal(err)
		}
	}
	_ = w.Close(asciicast.Exit{})
	var blocks [][]byte
	s := buf.Bytes()
	for len(s) > 0 {
		n := min(64<<10, len(s))
		if i := bytes.IndexByte(s[n-1:], '\n'); i >= 0 {
			n += i
		} else {
			n = len(s)
		}
		blocks = append(blocks, s[:n])
		s = s[n:]
	}
	return blocks
}

// BenchmarkCodecs compares the compressors the data file could use, on
// text-heavy event lines cut into chunks as the Writer cuts them: CPU per
// byte of event lines (ns/op, MB/s) and event-line bytes per stored byte.
func BenchmarkCodecs(b *testing.B) {
	blocks := castStream(b)
	var total int64
	for _, p := range blocks {
		total += int64(len(p))
	}
	for _, c := range codecs {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(total)
			var out bytes.Buffer
			z, reset := c.new(&out)
			cpu := cpuTime()
			for b.Loop() {
				out.Reset()
				reset(&out)
				chunk := 0
				for _, p := range blocks {
					_, _ = z.Write(p)
					_ = z.Flush()
					if chunk += len(p); chunk >= ChunkBytes {
						_ = z.Close()
						reset(&out)
						chunk = 0
					}
				}
				_ = z.Close()
			}
			reportCPU(b, cpu, total)
			b.ReportMetric(float64(total)/float64(out.Len()), "lines/stored")
		})
	}
}

// cpuTime is the process's user+system CPU time so far: on a machine
// shared with other work, CPU per byte is what a benchmark can compare,
// where wall time varies with the load.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU seconds per GB of input since start (b.N
// loops of n bytes).
func reportCPU(b *testing.B, start time.Duration, n int64) {
	b.ReportMetric((cpuTime()-start).Seconds()/(float64(n)*float64(b.N)/1e9), "cpu-s/GB")
}
