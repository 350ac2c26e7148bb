package main

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// textFile is the varied text the text-bulk metrics send: base64 of a
// seeded ChaCha8 stream in 76-column lines, as base64(1) prints it. It is
// written once, on the target's machine (this one), and read by `cat` on
// the target, so the producer costs almost nothing and is the same for
// every path.
type textFile struct {
	path     string
	size     int64 // bytes in the file
	newlines int64 // '\n' in the file: a PTY (onlcr) turns each into "\r\n"
}

// writeTextFile writes size bytes of text made from seed.
func writeTextFile(tb *fixtureTB, size int64, seed uint64) textFile {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	rng := rand.NewChaCha8(key)
	tf := textFile{path: filepath.Join(tb.TempDir(), "text.b64"), size: size}
	f, err := os.Create(tf.path)
	if err != nil {
		tb.Fatalf("create text file: %v", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	raw := make([]byte, 57) // 57 bytes → one 76-column base64 line
	line := make([]byte, 77)
	for left := size; left > 0; {
		_, _ = rng.Read(raw)
		base64.StdEncoding.Encode(line, raw)
		line[76] = '\n'
		n := int64(len(line))
		if n > left { // the last line is cut short but still ends the file with a newline
			n = left
			line[n-1] = '\n'
		}
		_, _ = w.Write(line[:n])
		tf.newlines++
		left -= n
	}
	if err := w.Flush(); err != nil {
		tb.Fatalf("write text file: %v", err)
	}
	if err := f.Close(); err != nil {
		tb.Fatalf("write text file: %v", err)
	}
	return tf
}
