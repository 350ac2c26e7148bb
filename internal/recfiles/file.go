package recfiles

import (
	"context"
	"io"
	"io/fs"
	"sync"
	"time"

	"github.com/jumpcast/jumpcast/internal/blobstore"
)

// readAhead is how much one bucket request reads at least: a reader's
// small reads (a gzip member's header, a line) then cost one ranged GET
// per readAhead bytes, not one each.
const readAhead = 1 << 20

// file is a blobstore.Object as a castfile.File: ReadAt with a read-ahead
// block, Read from the start (not for concurrent use, as *os.File's),
// Stat with the name and size.
type file struct {
	obj  blobstore.Object
	name string
	pos  int64 // Read's offset

	mu     sync.Mutex // guards buf and bufOff
	buf    []byte
	bufOff int64
}

func newFile(obj blobstore.Object, name string) *file { return &file{obj: obj, name: name} }

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	size := f.obj.Size()
	if off >= size {
		return 0, io.EOF
	}
	if len(p) >= readAhead {
		return f.obj.ReadAt(p, off)
	}
	f.mu.Lock()
	end := f.bufOff + int64(len(f.buf))
	if off >= f.bufOff && off < end && (off+int64(len(p)) <= end || end == size) {
		n := copy(p, f.buf[off-f.bufOff:])
		f.mu.Unlock()
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	f.mu.Unlock()
	block := make([]byte, min(readAhead, size-off))
	n, err := f.obj.ReadAt(block, off)
	if err != nil && err != io.EOF {
		return 0, err
	}
	block = block[:n]
	f.mu.Lock()
	f.buf, f.bufOff = block, off
	f.mu.Unlock()
	n = copy(p, block)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *file) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.pos)
	f.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *file) Close() error { return f.obj.Close() }

func (f *file) Stat() (fs.FileInfo, error) { return info{name: f.name, size: f.obj.Size()}, nil }

// info describes a file in the bucket.
type info struct {
	name string
	size int64
}

func (i info) Name() string       { return i.name }
func (i info) Size() int64        { return i.size }
func (i info) Mode() fs.FileMode  { return 0o400 }
func (i info) ModTime() time.Time { return time.Time{} }
func (i info) IsDir() bool        { return false }
func (i info) Sys() any           { return nil }

// partsObject is the concatenation of a file's stream parts, each opened
// at its first read.
type partsObject struct {
	ctx    context.Context
	bucket blobstore.Store
	parts  []blobstore.Part

	mu   sync.Mutex // guards open
	open map[int]blobstore.Object
}

func (o *partsObject) Size() int64 {
	last := o.parts[len(o.parts)-1]
	return last.Off + last.Size
}

func (o *partsObject) part(i int) (blobstore.Object, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if obj, ok := o.open[i]; ok {
		return obj, nil
	}
	obj, err := o.bucket.Open(o.ctx, o.parts[i].Key)
	if err != nil {
		return nil, err
	}
	if o.open == nil {
		o.open = map[int]blobstore.Object{}
	}
	o.open[i] = obj
	return obj, nil
}

func (o *partsObject) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for i, pt := range o.parts {
		if n == len(p) {
			break
		}
		at := off + int64(n)
		if at >= pt.Off+pt.Size || at < pt.Off {
			continue
		}
		obj, err := o.part(i)
		if err != nil {
			return n, err
		}
		m, err := obj.ReadAt(p[n:min(len(p), n+int(pt.Off+pt.Size-at))], at-pt.Off)
		n += m
		if err != nil && err != io.EOF {
			return n, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (o *partsObject) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, obj := range o.open {
		_ = obj.Close()
	}
	o.open = nil
	return nil
}
