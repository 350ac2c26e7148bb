// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	mrand "math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// chunkReader gives data back in pieces of random size, as a socket
// does, then err.
type chunkReader struct {
	data []byte
	rng  *mrand.Rand
	err  error
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, c.err
	}
	n := 1 + c.rng.IntN(300)
	if c.rng.IntN(4) == 0 {
		n = 1 + c.rng.IntN(3*packetBufSize)
	}
	n = copy(p[:min(n, len(p))], c.data)
	c.data = c.data[n:]
	return n, nil
}

// A packetReader read the way the ciphers read (a few bytes of length,
// then the rest of the packet) gives exactly the bytes of the
// connection, then its error, and holds no pooled buffer at the end.
func TestPacketReaderReadsTheStream(t *testing.T) {
	errReset := errors.New("connection reset")
	for seed := range 40 {
		rng := mrand.New(mrand.NewPCG(uint64(seed), 7))
		data := make([]byte, 100000+rng.IntN(100000))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		pr := &packetReader{rd: &chunkReader{data: data, rng: rng, err: errReset}}
		var got []byte
		for {
			size := 4
			if rng.IntN(2) == 0 {
				size = 1 + rng.IntN(40000)
				if rng.IntN(2) == 0 {
					size = 1 + rng.IntN(200)
				}
			}
			buf := make([]byte, size)
			n, err := io.ReadFull(pr, buf)
			got = append(got, buf[:n]...)
			if err != nil {
				if err != errReset {
					t.Fatalf("seed %d: error %v, want the connection's", seed, err)
				}
				break
			}
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("seed %d: read %d bytes, not the %d written", seed, len(got), len(data))
		}
		if pr.big != nil {
			t.Fatalf("seed %d: the reader holds a pooled buffer after the end", seed)
		}
	}
}

// Two transports over a socket: after each packet, and after a burst of
// them, neither side holds a pooled buffer, and every packet arrives
// whole.
func TestTransportBuffersOnlyWhileDataFlows(t *testing.T) {
	a, b, err := netPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	trC := newTransport(a, rand.Reader, true)
	trS := newTransport(b, rand.Reader, false)
	idle := func(when string) {
		t.Helper()
		if trC.bufWriter.bw != nil || trS.bufReader.big != nil {
			t.Fatalf("%s: a buffer is held (writer %v, reader %v)", when, trC.bufWriter.bw != nil, trS.bufReader.big != nil)
		}
	}
	idle("new")
	for i := range 5 {
		p := []byte{msgChannelData, byte(i), 'k', 'e', 'y'}
		if err := trC.writePacket(p); err != nil {
			t.Fatal(err)
		}
		got, err := trS.readPacket()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, p) {
			t.Fatalf("packet %d: got %x, want %x", i, got, p)
		}
		idle("after a packet")
	}
	const burst = 300
	sent := make(chan error, 1)
	go func() {
		for i := range burst {
			p := bytes.Repeat([]byte{byte(i)}, 1+i*37%(3*packetBufSize))
			p[0] = msgChannelData
			if err := trC.writePacket(p); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	for i := range burst {
		got, err := trS.readPacket()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1+i*37%(3*packetBufSize) || got[len(got)-1] != byte(i) && len(got) > 1 {
			t.Fatalf("burst packet %d: %d bytes", i, len(got))
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	idle("after a burst")
}

// TestReceivedDataIsRecycled: a channel's received data packets go back
// to the pool once read, so relaying much data allocates little, and every
// byte still arrives intact whatever the reader's read sizes.
// TestPooledPacketsFit: a pooled packet has about twice the room its
// data needs, whatever its size, and goes back to its pool.
func TestPooledPacketsFit(t *testing.T) {
	for _, n := range []int{minRecycledPacket, 4096 + 13, 8000, 13 + channelMaxPacket/4 + 1, 20000, recycledPacketSize} {
		p := newPacket(n)
		if len(p) != n || cap(p) > 2*n+13 {
			t.Errorf("newPacket(%d): len %d, cap %d", n, len(p), cap(p))
		}
		recyclePacket(p)
		if q := newPacket(n); !raceEnabled && &q[:1][0] != &p[:1][0] {
			t.Errorf("newPacket(%d) after recyclePacket: not the recycled packet", n)
		}
	}
	if p := newPacket(100); cap(p) != 100 {
		t.Errorf("newPacket(100): cap %d, want 100 (not pooled)", cap(p))
	}
}

func TestReceivedDataIsRecycled(t *testing.T) {
	client, server, err := sshPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	defer server.Close()

	const n = 64 << 20
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i*13 + i>>11)
	}
	served := make(chan error, 1)
	go func() {
		nc, err := server.Accept()
		if err != nil {
			served <- err
			return
		}
		ch, reqs, err := nc.Accept()
		if err != nil {
			served <- err
			return
		}
		go DiscardRequests(reqs)
		for i := 0; i < n/len(block); i++ {
			if _, err := ch.Write(block); err != nil {
				served <- err
				return
			}
		}
		served <- ch.CloseWrite()
	}()
	ch, reqs, err := client.OpenChannel("chan", nil)
	if err != nil {
		t.Fatal(err)
	}
	go DiscardRequests(reqs)

	// Warm the pools, then count what the rest of the transfer allocates.
	buf := make([]byte, 32<<10)
	read := func(size int) {
		if _, err := io.ReadFull(ch, buf[:size]); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for ; got < 4<<20; got += len(buf) {
		read(len(buf))
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	sizes := []int{1000, 32 << 10, 7, 20000}
	for k := 0; got < n; k++ {
		size := min(sizes[k%len(sizes)], n-got)
		read(size)
		for i := range size {
			if want := block[(got+i)%len(block)]; buf[i] != want {
				t.Fatalf("byte %d is %d, want %d", got+i, buf[i], want)
			}
		}
		got += size
	}
	runtime.ReadMemStats(&after)
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if k, err := ch.Read(buf); k != 0 || err != io.EOF {
		t.Errorf("after %d bytes: read %d, %v; want EOF", got, k, err)
	}
	// Both ends are in this process: the server's writes count too.
	if alloc := after.TotalAlloc - before.TotalAlloc; !raceEnabled && alloc > (n-4<<20)/8 {
		t.Errorf("relaying %d MiB allocated %d MiB, want at most an eighth", (n-4<<20)>>20, alloc>>20)
	}
}

// unread returns how many bytes b holds that have not been read.
func (b *buffer) unread() int {
	b.Cond.L.Lock()
	defer b.Cond.L.Unlock()
	n := 0
	for e := b.head; e != nil; e = e.next {
		n += len(e.buf)
	}
	return n
}

// pooledPipe is sshPipe whose client offers windows of up to 4 MiB taken
// from pool.
func pooledPipe(t *testing.T, pool *WindowPool) (Conn, *server) {
	c1, c2, err := netPipe()
	if err != nil {
		t.Fatal(err)
	}
	serverConf := ServerConfig{NoClientAuth: true}
	serverConf.AddHostKey(testSigners["ecdsa"])
	done := make(chan *server, 1)
	go func() {
		s, err := newServer(c2, &serverConf)
		if err != nil {
			t.Error(err)
		}
		done <- s
	}()
	conf := ClientConfig{User: "u", HostKeyCallback: InsecureIgnoreHostKey()}
	conf.ChannelWindowSize = 4 << 20
	conf.ChannelWindowPool = pool
	client, _, reqs, err := NewClientConn(c1, "", &conf)
	if err != nil {
		t.Fatal(err)
	}
	go DiscardRequests(reqs)
	s := <-done
	if s == nil {
		t.FailNow()
	}
	t.Cleanup(func() { client.Close(); s.Close() })
	return client, s
}

// TestWindowPoolBoundsUnreadData: channels of several connections sharing
// a WindowPool hold at most 64 KiB each plus the pool of unread data, a
// channel alone grows its window to the whole pool, every byte arrives,
// and closed channels give their credit back.
func TestWindowPoolBoundsUnreadData(t *testing.T) {
	const size, conns, perChan = 1 << 20, 4, 6 << 20
	pool := NewWindowPool(size)
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i*7 + i>>12)
	}
	chans := make([]*channel, conns)
	served := make(chan error, conns)
	for i := range chans {
		client, server := pooledPipe(t, pool)
		go func() {
			nc, err := server.Accept()
			if err != nil {
				served <- err
				return
			}
			ch, reqs, err := nc.Accept()
			if err != nil {
				served <- err
				return
			}
			go DiscardRequests(reqs)
			for range perChan / len(block) {
				if _, err := ch.Write(block); err != nil {
					served <- err
					return
				}
			}
			served <- ch.Close()
		}()
		ch, reqs, err := client.OpenChannel("chan", nil)
		if err != nil {
			t.Fatal(err)
		}
		go DiscardRequests(reqs)
		chans[i] = ch.(*channel)
	}
	buf := make([]byte, 64<<10)
	read := func(ch *channel, from, n int) {
		for got := 0; got < n; {
			k, err := ch.Read(buf[:min(len(buf), n-got)])
			if err != nil {
				t.Fatalf("after %d bytes: %v", from+got, err)
			}
			for j := range k {
				if want := block[(from+got+j)%len(block)]; buf[j] != want {
					t.Fatalf("byte %d is %d, want %d", from+got+j, buf[j], want)
				}
			}
			got += k
		}
	}
	borrowed := func(ch *channel) uint32 {
		ch.windowMu.Lock()
		defer ch.windowMu.Unlock()
		return ch.borrowed
	}
	// settled waits until no channel's unread data grows any more.
	settled := func() int {
		last := -1
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			total := 0
			for _, ch := range chans {
				total += ch.pending.unread()
			}
			if total == last {
				return total
			}
			last = total
		}
		t.Fatal("the channels' unread data did not settle")
		return 0
	}

	// Alone, the first channel borrows the whole pool.
	read(chans[0], 0, 2<<20)
	if b := borrowed(chans[0]); b != size {
		t.Errorf("a channel alone borrowed %d bytes, want the pool's %d", b, size)
	}
	// Everyone reads a little (and borrows), then nobody reads.
	for _, ch := range chans[1:] {
		read(ch, 0, 2<<20)
	}
	if total, limit := settled(), conns*poolFloor+size; total > limit {
		t.Errorf("%d channels hold %d bytes unread, want at most %d", conns, total, limit)
	}
	if free := pool.Free(); free < 0 || free > size {
		t.Errorf("pool has %d bytes free of %d", free, size)
	}
	for _, ch := range chans {
		read(ch, 2<<20, perChan-2<<20)
		if k, err := ch.Read(buf); k != 0 || err != io.EOF {
			t.Errorf("at the end: read %d, %v; want EOF", k, err)
		}
	}
	for range chans {
		if err := <-served; err != nil && err != io.EOF {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); pool.Free() != size; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("closed channels left the pool with %d bytes of %d (%d borrowers)", pool.Free(), size, pool.borrowers.Load())
		}
	}
	if n := pool.borrowers.Load(); n != 0 {
		t.Errorf("%d borrowers after every channel closed", n)
	}
}

// cipherBuf returns the capacity of the work buffer c keeps.
func cipherBuf(t *testing.T, c packetCipher) int {
	switch c := c.(type) {
	case *gcmCipher:
		return cap(c.buf)
	case *chacha20Poly1305Cipher:
		return cap(c.buf)
	}
	t.Fatalf("cipher %T", c)
	return 0
}

// TestCiphersKeepNoLargeBuffer: after a bulk transfer each way, with
// either AEAD cipher, no direction of either connection keeps a work
// buffer larger than smallWorkBuf, and every byte arrived.
func TestCiphersKeepNoLargeBuffer(t *testing.T) {
	for _, cipher := range []string{CipherAES128GCM, CipherChaCha20Poly1305} {
		t.Run(cipher, func(t *testing.T) {
			c1, c2, err := netPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer c1.Close()
			defer c2.Close()
			serverConf := ServerConfig{NoClientAuth: true}
			serverConf.AddHostKey(testSigners["ecdsa"])
			serverConf.Ciphers = []string{cipher}
			done := make(chan *server, 1)
			go func() {
				s, err := newServer(c2, &serverConf)
				if err != nil {
					t.Error(err)
				}
				done <- s
			}()
			conf := ClientConfig{User: "u", HostKeyCallback: InsecureIgnoreHostKey()}
			conf.Ciphers = []string{cipher}
			client, _, reqs, err := NewClientConn(c1, "", &conf)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			go DiscardRequests(reqs)
			server := <-done
			if server == nil {
				t.FailNow()
			}
			defer server.Close()

			const n = 4 << 20
			data := make([]byte, n)
			for i := range data {
				data[i] = byte(i*3 + i>>10)
			}
			echoed := make(chan error, 1)
			go func() {
				nc, err := server.Accept()
				if err != nil {
					echoed <- err
					return
				}
				ch, reqs, err := nc.Accept()
				if err != nil {
					echoed <- err
					return
				}
				go DiscardRequests(reqs)
				_, err = io.Copy(ch, ch) // echo it back
				ch.CloseWrite()
				echoed <- err
			}()
			ch, creqs, err := client.OpenChannel("chan", nil)
			if err != nil {
				t.Fatal(err)
			}
			go DiscardRequests(creqs)
			go func() {
				ch.Write(data)
				ch.CloseWrite()
			}()
			got, err := io.ReadAll(ch)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-echoed; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("echoed %d bytes, want the %d sent", len(got), n)
			}
			// Closed and waited for, so no packet is in flight.
			client.Close()
			server.Close()
			client.Wait()
			server.Wait()
			for name, c := range map[string]Conn{"client": client, "server": server.ServerConn} {
				var tr *transport
				switch c := c.(type) {
				case *connection:
					tr = c.transport.(*handshakeTransport).conn.(*transport)
				case *ServerConn:
					tr = c.Conn.(*connection).transport.(*handshakeTransport).conn.(*transport)
				}
				if r, w := cipherBuf(t, tr.reader.packetCipher), cipherBuf(t, tr.writer.packetCipher); r > smallWorkBuf || w > smallWorkBuf {
					t.Errorf("%s keeps work buffers of %d (read) and %d (write) bytes, want at most %d", name, r, w, smallWorkBuf)
				}
			}
		})
	}
}
