package castfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// logOutput is text-heavy output as a long journalctl or build log writes
// it: 64 KiB reads of timestamped lines.
func logOutput(n int) [][]byte {
	out := make([][]byte, n)
	line := 0
	for i := range out {
		var b []byte
		for len(b) < 64<<10 {
			b = fmt.Appendf(b, "Dec 04 12:%02d:%02d host app[%d]: GET /api/v1/items/%d 200 %dms user=u%d\r\n",
				line/60%60, line%60, 1000+line%7, line*7919%100000, line%250, line%40)
			line++
		}
		out[i] = b
	}
	return out
}

// BenchmarkRecord compares recording text-heavy output to a raw .cast
// with recording it in the compressed format as a session does (gzip and
// an index without keyframes: those are made after Close, off the
// session's path),
// through asciicast.Writer, to real files: the time a session's output
// takes to be recorded. It reports output bytes per stored byte.
func BenchmarkRecord(b *testing.B) {
	out := logOutput(64) // 4 MiB
	var total int64
	for _, p := range out {
		total += int64(len(p))
	}
	for _, format := range []string{"raw", "compressed"} {
		b.Run(format, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(total)
			dir := b.TempDir()
			var stored int64
			var cpu, paused time.Duration
			cpu = cpuTime()
			for i := 0; b.Loop(); i++ {
				data, err := os.Create(filepath.Join(dir, fmt.Sprint(i)))
				if err != nil {
					b.Fatal(err)
				}
				var dst io.Writer = data
				var cw *Writer
				var idx *os.File
				h := asciicast.Header{Width: 200, Height: 50}
				if format == "compressed" {
					if idx, err = os.Create(data.Name() + ".idx"); err != nil {
						b.Fatal(err)
					}
					cw = NewWriter(data, idx, h)
					dst = cw
				}
				var now time.Duration
				w, err := asciicast.NewWriter(dst, h, asciicast.WriterOptions{Clock: func() time.Duration { return now }})
				if err != nil {
					b.Fatal(err)
				}
				for _, p := range out {
					now += 50 * time.Millisecond
					if err := w.Output(p); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				pauseAt := cpuTime()
				if err := w.Close(asciicast.Exit{}); err != nil {
					b.Fatal(err)
				}
				if cw != nil {
					if err := cw.Close(); err != nil {
						b.Fatal(err)
					}
				}
				st, _ := data.Stat()
				stored = st.Size()
				_ = data.Close()
				_ = os.Remove(data.Name())
				if idx != nil {
					_ = idx.Close()
					_ = os.Remove(idx.Name())
				}
				paused += cpuTime() - pauseAt
				b.StartTimer()
			}
			reportCPU(b, cpu+paused, total)
			b.ReportMetric(float64(total)/float64(stored), "output/stored")
		})
	}
}

// BenchmarkRecordCorpus records a text file of your choosing
// (JUMPCAST_CORPUS: e.g. real logs, `ls -lR`, man pages) as a PTY session
// would deliver it (LF as CRLF, 4 KiB reads 2 ms apart), raw and
// compressed, and reports raw .cast bytes per stored byte (data and
// index). The storage ratio depends on the text far more than on the
// format; this measures it on text that is not generated.
func BenchmarkRecordCorpus(b *testing.B) {
	path := os.Getenv("JUMPCAST_CORPUS")
	if path == "" {
		b.Skip("JUMPCAST_CORPUS names no text file")
	}
	text, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	text = bytes.ReplaceAll(text, []byte("\n"), []byte("\r\n"))
	b.SetBytes(int64(len(text)))
	var raw, stored int
	for b.Loop() {
		var rawBuf, data, idx bytes.Buffer
		if err := recordText(text, &rawBuf, &data, &idx); err != nil {
			b.Fatal(err)
		}
		raw, stored = rawBuf.Len(), data.Len()+idx.Len()
	}
	b.ReportMetric(float64(raw)/float64(stored), "cast/stored")
}

// recordText records text as a PTY session delivers it (4 KiB reads 2 ms
// apart) both as a raw .cast to raw and in the compressed format to data
// and idx.
func recordText(text []byte, raw, data, idx io.Writer) error {
	var now time.Duration
	clock := asciicast.WriterOptions{Clock: func() time.Duration { return now }}
	h := asciicast.Header{Width: 200, Height: 50}
	rw, _ := asciicast.NewWriter(raw, h, clock)
	cw := NewWriter(data, idx, h)
	zw, _ := asciicast.NewWriter(cw, h, clock)
	for off := 0; off < len(text); off += 4 << 10 {
		p := text[off:min(off+4<<10, len(text))]
		now += 2 * time.Millisecond
		if err := errors.Join(rw.Output(p), zw.Output(p)); err != nil {
			return err
		}
	}
	return errors.Join(rw.Close(asciicast.Exit{}), zw.Close(asciicast.Exit{}), cw.Close())
}

// BenchmarkArchive records text as BenchmarkRecordCorpus does (a file
// named by JUMPCAST_CORPUS, else the generated log lines of logOutput),
// then measures Archive on it: the CPU archiving takes per GB of raw
// .cast, and raw .cast bytes per stored byte (data and index) in the
// compressed format sessions write and in the archived one.
func BenchmarkArchive(b *testing.B) {
	var text []byte
	if path := os.Getenv("JUMPCAST_CORPUS"); path != "" {
		var err error
		if text, err = os.ReadFile(path); err != nil {
			b.Fatal(err)
		}
		text = bytes.ReplaceAll(text, []byte("\n"), []byte("\r\n"))
	} else {
		text = bytes.Join(logOutput(64), nil)
	}
	dir := b.TempDir()
	var rawBuf bytes.Buffer
	files := make([]*os.File, 2)
	for i, name := range []string{"rec.cast.gz", IndexPath("rec.cast.gz")} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		files[i] = f
	}
	err := recordText(text, &rawBuf, files[0], files[1])
	if err := errors.Join(err, files[0].Close(), files[1].Close()); err != nil {
		b.Fatal(err)
	}
	var gzStored int64
	for _, name := range []string{"rec.cast.gz", IndexPath("rec.cast.gz")} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		gzStored += st.Size()
	}
	r, err := Open(dirOpener(dir), "rec.cast.gz")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	b.SetBytes(int64(rawBuf.Len()))
	var data, idx bytes.Buffer
	cpu := cpuTime()
	for b.Loop() {
		data.Reset()
		idx.Reset()
		if _, err := Archive(&data, &idx, r); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu, int64(rawBuf.Len()))
	b.ReportMetric(float64(rawBuf.Len())/float64(gzStored), "cast/compressed")
	b.ReportMetric(float64(rawBuf.Len())/float64(data.Len()+idx.Len()), "cast/archived")
}
