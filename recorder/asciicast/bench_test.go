package asciicast_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

// benchChunks are 4 KiB reads of typical terminal output.
func benchChunk(kind string) []byte {
	var s string
	switch kind {
	case "text":
		s = "drwxr-xr-x  2 root root  4096 Nov 24 09:30 bin\r\n"
	case "cjk":
		s = "日本語のテキストと中文字符，한국어 😀 e\u0301\r\n"
	case "escapes":
		s = "\x1b[1;32m+\x1b[0m \x1b[38;5;208m\"q\"\x1b[0m\t\x1b[H\x1b[2J\x1b[?25l\\\r\n"
	case "binary":
		rng := rand.New(rand.NewPCG(1, 1))
		b := make([]byte, 4096)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	return []byte(strings.Repeat(s, 4096/len(s)+1)[:4096])
}

// BenchmarkEncode measures the Writer's event path (carry, encode, buffer)
// on 4 KiB chunks; the chunk is cut inside a character when it ends in one,
// so the carry is exercised.
func BenchmarkEncode(b *testing.B) {
	for _, kind := range []string{"text", "cjk", "escapes", "binary"} {
		b.Run(kind, func(b *testing.B) {
			chunk := benchChunk(kind)
			w, err := asciicast.NewWriter(io.Discard, asciicast.Header{}, asciicast.WriterOptions{Clock: (&asciicasttest.Clock{}).Now, SummarizeBinary: kind == "binary"})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			for b.Loop() {
				if err := w.Output(chunk); err != nil {
					b.Fatal(err)
				}
			}
			_ = w.Close(asciicast.Exit{})
		})
	}
}

// BenchmarkRead measures parsing a cast of 4 KiB text events.
func BenchmarkRead(b *testing.B) {
	var buf bytes.Buffer
	w, _ := asciicast.NewWriter(&buf, asciicast.Header{}, asciicast.WriterOptions{Clock: (&asciicasttest.Clock{}).Now})
	chunk := benchChunk("cjk")
	for range 256 {
		_ = w.Output(chunk)
	}
	_ = w.Close(asciicast.Exit{})
	raw := buf.Bytes()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := asciicast.NewReader(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := rd.Next(); err != nil {
				break
			}
		}
	}
}
