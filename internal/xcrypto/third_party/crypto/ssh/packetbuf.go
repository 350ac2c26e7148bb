// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"bufio"
	"io"
	"sync"
	"sync/atomic"
)

// A connection's transport buffers what it reads and writes, so that a
// packet costs about one read(2) and one write(2). A server holding many
// idle connections (a bastion, a proxy) would keep 8 KiB of buffers per
// connection that only a packet in flight uses. packetReader and
// packetWriter take their 4 KiB buffers from a pool while data flows and
// give them back when it stops: an idle connection waits for its next
// packet in a 128-byte array of its own.

const packetBufSize = 4096

// maxEmptyReads is how many reads returning nothing a packetReader makes
// before it gives up with io.ErrNoProgress (as bufio.Reader).
const maxEmptyReads = 100

var readBufs = sync.Pool{New: func() any { b := make([]byte, packetBufSize); return &b }}

var writeBufs = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, packetBufSize) }}

// packetReader is a buffered reader of the connection, like
// bufio.Reader, that holds a pooled buffer only while it has unread data.
// A read that finds it empty goes into small after a short read (the
// connection is interactive or idle), into a pooled buffer after a full
// one (data is flowing), and straight into the caller's slice when that
// is at least as large. Not safe for concurrent use.
type packetReader struct {
	rd      io.Reader
	small   [128]byte
	big     *[]byte // pooled; held while buf is *big
	buf     []byte  // small[:] or *big
	r, w    int     // buf[r:w] is unread
	flowing bool    // the last read filled its buffer
	err     error   // the read error, returned once the data before it is read
}

func (b *packetReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.r == b.w {
		b.release()
		if b.err != nil {
			err := b.err
			b.err = nil
			return 0, err
		}
		if len(p) >= packetBufSize {
			return b.rd.Read(p)
		}
		b.buf = b.small[:]
		if b.flowing {
			b.big = readBufs.Get().(*[]byte)
			b.buf = *b.big
		}
		var n int
		var err error
		for i := 0; n == 0 && err == nil && i < maxEmptyReads; i++ {
			n, err = b.rd.Read(b.buf)
		}
		if n < 0 || n > len(b.buf) {
			panic("ssh: reader returned an invalid count")
		}
		b.r, b.w, b.err = 0, n, err
		b.flowing = n == len(b.buf)
		if n == 0 {
			b.release()
			err := b.err
			b.err = nil
			if err == nil {
				err = io.ErrNoProgress
			}
			return 0, err
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	if b.r == b.w {
		b.release()
	}
	return n, nil
}

// release gives the pooled buffer back, once it holds no unread data.
func (b *packetReader) release() {
	if b.big != nil && b.r == b.w {
		readBufs.Put(b.big)
		b.big, b.buf, b.r, b.w = nil, nil, 0, 0
	}
}

// packetWriter is a bufio.Writer of the connection taken from a pool at
// a packet's first write and given back by Flush, which writePacket calls
// after every packet. Not safe for concurrent use.
type packetWriter struct {
	wr  io.Writer
	bw  *bufio.Writer // nil between packets
	err error         // the first write error; every later call returns it
}

func (w *packetWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.bw == nil {
		w.bw = writeBufs.Get().(*bufio.Writer)
		w.bw.Reset(w.wr)
	}
	n, err := w.bw.Write(p)
	if err != nil {
		w.fail(err)
	}
	return n, err
}

// Flush writes what is buffered and gives the buffer back.
func (w *packetWriter) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.bw == nil {
		return nil
	}
	if err := w.bw.Flush(); err != nil {
		w.fail(err)
		return err
	}
	w.bw.Reset(nil)
	writeBufs.Put(w.bw)
	w.bw = nil
	return nil
}

// fail keeps err and drops the buffer (a bufio.Writer that failed keeps
// failing, so it does not go back to the pool).
func (w *packetWriter) fail(err error) {
	w.err = err
	w.bw = nil
}

// Received packets are copied out of the transport's buffers into slices
// of their own. Channel data packets, nearly all of a busy connection's
// traffic, are read once and dropped: a proxy relaying at 100 MB/s makes
// 100 MB/s of garbage, and the heap grows by up to that much between
// collections on top of what the channels hold. Packets that can carry a
// full data payload come from a pool instead, and a channel's buffer gives
// them back once their data has been read (buffer.writePacket), so the
// heap holds what is in flight.

// recycledPacketSize is the capacity of the largest pooled packets: the
// largest channel data packet this package accepts (handleData).
const recycledPacketSize = 13 + channelMaxPacket

// minRecycledPacket is the smallest packet taken from a pool: smaller
// ones (keystrokes, requests) are cheap to allocate.
const minRecycledPacket = 4096

// packetClasses are the capacities of pooled packets, each twice the one
// before, so that a packet waiting in a channel holds at most about twice
// its length: a terminal's output comes in packets of about 4 KiB (one read
// of the pty each), and a 2 MiB window of them held 16 MiB when every
// pooled packet had room for 32 KiB.
var packetClasses = [...]int{13 + channelMaxPacket/4, 13 + channelMaxPacket/2, recycledPacketSize}

var packetPools [len(packetClasses)]sync.Pool

// newPacket returns a slice of n bytes, from the smallest pool whose
// packets hold it when it is large.
func newPacket(n int) []byte {
	if n >= minRecycledPacket {
		for i, size := range packetClasses {
			if n <= size {
				if p, ok := packetPools[i].Get().(*[]byte); ok {
					return (*p)[:n]
				}
				return make([]byte, n, size)
			}
		}
	}
	return make([]byte, n)
}

// recyclePacket gives p back to its pool when it came from one; the
// caller must be the last to hold it.
func recyclePacket(p []byte) {
	for i, size := range packetClasses {
		if cap(p) == size {
			p = p[:size]
			packetPools[i].Put(&p)
			return
		}
	}
}

// poolFloor is the receive window a channel sharing a WindowPool always
// has: two full data packets.
const poolFloor = 2 * channelMaxPacket

// A WindowPool is receive-window credit shared by channels, possibly of
// many connections, to bound the memory their unread data can take
// (Config.ChannelWindowPool). It is safe for concurrent use.
type WindowPool struct {
	size      int64
	free      atomic.Int64
	borrowers atomic.Int64 // channels holding credit from the pool
}

// NewWindowPool returns a pool of size bytes of window credit.
func NewWindowPool(size int) *WindowPool {
	p := &WindowPool{size: int64(size)}
	p.free.Store(int64(size))
	return p
}

// Free returns the credit no channel holds.
func (p *WindowPool) Free() int { return int(p.free.Load()) }

// take removes up to want bytes of credit and returns how many it took.
func (p *WindowPool) take(want int64) uint32 {
	for {
		f := p.free.Load()
		got := min(want, f)
		if got <= 0 {
			return 0
		}
		if p.free.CompareAndSwap(f, f-got) {
			return uint32(got)
		}
	}
}

// The AEAD ciphers seal and open each packet in a work buffer of their
// own, which used to grow to the largest packet a connection had carried
// and stay that large for its life: about 33 KiB per direction that had
// carried bulk data, twice per relayed session. Buffers of more than
// smallWorkBuf bytes now come from a pool and go back as soon as the
// packet is written (or, read, copied out by readPacket: bufReleaser).

// smallWorkBuf is the largest work buffer a cipher keeps between packets.
const smallWorkBuf = 512

// workBufSize is the capacity of pooled work buffers: a full data packet
// with its header, padding and tag.
const workBufSize = recycledPacketSize + 64

var workBufs = sync.Pool{New: func() any { b := make([]byte, workBufSize); return &b }}

// workBuf returns buf resized to n bytes, from the pool when buf is too
// small and n is not more than a pooled buffer holds.
func workBuf(buf []byte, n int) []byte {
	switch {
	case cap(buf) >= n:
		return buf[:n]
	case n <= smallWorkBuf:
		return make([]byte, n, smallWorkBuf)
	case n <= workBufSize:
		return (*workBufs.Get().(*[]byte))[:n]
	}
	return make([]byte, n)
}

// releaseWorkBuf gives a large work buffer back (to the pool when it came
// from it) and returns what the cipher keeps.
func releaseWorkBuf(buf []byte) []byte {
	switch {
	case cap(buf) <= smallWorkBuf:
		return buf[:0]
	case cap(buf) == workBufSize:
		buf = buf[:workBufSize]
		workBufs.Put(&buf)
	}
	return nil
}

// A bufReleaser is a packetCipher whose work buffer the packet it last
// read points into, to be released once that packet has been copied.
type bufReleaser interface {
	releaseBuf()
}
