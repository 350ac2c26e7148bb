package castfile

import (
	"bufio"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// OpenPlain opens the recording at rel through o as the plain asciicast v2
// stream, whichever its format: a raw file as it is, a compressed or
// archived one decompressed (what zcat or zstdcat prints; an active or cut
// one ends where its data does, possibly inside a line — asciicast.Reader
// reads such an end as truncated). For a raw file the result is the File
// itself.
func OpenPlain(o Opener, rel string) (io.ReadCloser, error) {
	f, err := o.Open(rel)
	if err != nil || !Compressed(rel) {
		return f, err
	}
	if isZstd(f) {
		// Concatenated frames are one stream to zstd's own reader.
		z, err := zstd.NewReader(bufio.NewReaderSize(f, 64<<10), zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(maxFrame), zstd.WithDecoderLowmem(true))
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("read recording %s: %w", rel, err)
		}
		return plain{Reader: &cutReader{r: z}, close: func() error { z.Close(); return f.Close() }}, nil
	}
	z, err := gzip.NewReader(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("read recording %s: %w", rel, err)
	}
	return plain{Reader: &cutReader{r: z}, close: f.Close}, nil
}

type plain struct {
	io.Reader
	close func() error
}

func (p plain) Close() error { return p.close() }
