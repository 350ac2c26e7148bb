package castfile

import (
	"fmt"
	"testing"
)

func BenchmarkZZScreen(b *testing.B) {
	var buf []byte
	for i := 0; len(buf) < 4<<20; i++ {
		buf = append(buf, fmt.Sprintf("2026-12-04T10:00:%02d \x1b[32mINFO\x1b[0m request id=%08x path=/api/v1/items/%d took %dms\r\n", i%60, i*7919, i, i%300)...)
	}
	b.SetBytes(int64(len(buf)))
	for i := 0; i < b.N; i++ {
		s := NewScreen(120, 40)
		for off := 0; off < len(buf); off += 4096 {
			end := min(off+4096, len(buf))
			s.Write(buf[off:end])
		}
		s.Close()
	}
}
