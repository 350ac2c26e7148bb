// Copyright 2012 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"io"
	"sync"
)

// buffer provides a linked list buffer for data exchange
// between producer and consumer. Theoretically the buffer is
// of unlimited capacity as it does no allocation of its own.
type buffer struct {
	// protects concurrent access to head, tail and closed
	*sync.Cond

	head *element // the buffer that will be read first
	tail *element // the buffer that will be read last

	closed bool

	// sink, when set, takes data in place of the buffer while the reader
	// holds none: idle is true from the moment Read finds the buffer
	// empty and waits until the next write, so everything received before
	// has been read and (by the reader's contract, see SetDataSink) passed
	// on.
	sink func(data []byte) bool
	idle bool
}

// An element represents a single link in a linked list.
type element struct {
	buf    []byte
	next   *element
	packet []byte // the received packet buf is part of, recycled once buf is read
}

// newBuffer returns an empty buffer that is not closed.
func newBuffer() *buffer {
	e := new(element)
	b := &buffer{
		Cond: newCond(),
		head: e,
		tail: e,
	}
	return b
}

// write makes buf available for Read to receive.
// buf must not be modified after the call to write.
func (b *buffer) write(buf []byte) {
	b.writePacket(buf, nil)
}

// writePacket is write for the data of a received packet: once the data
// has been read, packet (if not nil) goes back to the pool newPacket takes
// from. Nothing else may hold packet.
func (b *buffer) writePacket(data, packet []byte) {
	b.Cond.L.Lock()
	e := &element{buf: data, packet: packet}
	b.idle = false
	b.tail.next = e
	b.tail = e
	b.Cond.Signal()
	b.Cond.L.Unlock()
}

// eof closes the buffer. Reads from the buffer once all
// the data has been consumed will receive io.EOF.
func (b *buffer) eof() {
	b.Cond.L.Lock()
	b.closed = true
	b.Cond.Signal()
	b.Cond.L.Unlock()
}

// Read reads data from the internal buffer in buf.  Reads will block
// if no data is available, or until the buffer is closed.
func (b *buffer) Read(buf []byte) (n int, err error) {
	b.Cond.L.Lock()
	defer b.Cond.L.Unlock()

	for len(buf) > 0 {
		// if there is data in b.head, copy it
		if len(b.head.buf) > 0 {
			r := copy(buf, b.head.buf)
			buf, b.head.buf = buf[r:], b.head.buf[r:]
			n += r
			continue
		}
		// if there is a next buffer, make it the head
		if len(b.head.buf) == 0 && b.head != b.tail {
			if b.head.packet != nil {
				recyclePacket(b.head.packet)
				b.head.packet = nil
			}
			b.head = b.head.next
			continue
		}

		// if at least one byte has been copied, return
		if n > 0 {
			break
		}

		// if nothing was read, and there is nothing outstanding
		// check to see if the buffer is closed.
		if b.closed {
			err = io.EOF
			break
		}
		// out of buffers, wait for producer
		b.idle = true
		b.Cond.Wait()
	}
	return
}

// setSink sets the function trySink hands data to.
func (b *buffer) setSink(sink func(data []byte) bool) {
	b.Cond.L.Lock()
	b.sink = sink
	b.Cond.L.Unlock()
}

// trySink hands data to the sink, when one is set, the buffer is empty and
// its reader waits in Read, and reports whether the sink took it. Called
// only by the buffer's one writer (the mux loop), so the buffer stays empty
// while the sink runs.
func (b *buffer) trySink(data []byte) bool {
	b.Cond.L.Lock()
	sink := b.sink
	ok := sink != nil && b.idle && !b.closed && b.head == b.tail && len(b.head.buf) == 0
	b.Cond.L.Unlock()
	return ok && sink(data)
}
