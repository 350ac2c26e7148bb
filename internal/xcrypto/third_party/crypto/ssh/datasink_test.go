// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"bytes"
	"encoding/binary"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// connPair connects a client and a server over loopback TCP, both
// re-keying after rekey bytes (0: the default), and returns both ends of
// a session channel the client opened.
func connPair(t *testing.T, rekey uint64) (server, client *channel) {
	t.Helper()
	c1, c2, err := netPipe()
	if err != nil {
		t.Fatalf("netPipe: %v", err)
	}
	type accepted struct {
		conn Conn
		ch   Channel
		err  error
	}
	done := make(chan accepted, 1)
	go func() {
		conf := &ServerConfig{NoClientAuth: true}
		conf.RekeyThreshold = rekey
		conf.AddHostKey(testSigners["ecdsa"])
		conn, chans, reqs, err := NewServerConn(c1, conf)
		if err != nil {
			done <- accepted{err: err}
			return
		}
		go DiscardRequests(reqs)
		nc, ok := <-chans
		if !ok {
			done <- accepted{conn: conn, err: io.EOF}
			return
		}
		go func() {
			for nc := range chans {
				nc.Reject(Prohibited, "one channel")
			}
		}()
		ch, creqs, err := nc.Accept()
		if err == nil {
			go DiscardRequests(creqs)
		}
		done <- accepted{conn: conn, ch: ch, err: err}
	}()
	conf := &ClientConfig{User: "u", HostKeyCallback: InsecureIgnoreHostKey()}
	conf.RekeyThreshold = rekey
	conn, chans, reqs, err := NewClientConn(c2, "", conf)
	if err != nil {
		t.Fatalf("NewClientConn: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	go DiscardRequests(reqs)
	go func() {
		for nc := range chans {
			nc.Reject(Prohibited, "none")
		}
	}()
	ch, creqs, err := conn.OpenChannel("session", nil)
	if err != nil {
		t.Fatalf("OpenChannel: %v", err)
	}
	go DiscardRequests(creqs)
	a := <-done
	if a.conn != nil {
		t.Cleanup(func() { a.conn.Close() })
	}
	if a.err != nil {
		t.Fatalf("server: %v", a.err)
	}
	return a.ch.(*channel), ch.(*channel)
}

// numbered returns the i-th message of a stream: its number and filler,
// size bytes.
func numbered(i, size int) []byte {
	m := bytes.Repeat([]byte{byte(i)}, size)
	binary.BigEndian.PutUint32(m, uint32(i))
	return m
}

// TestDataSinkRelay relays a channel's data to another connection's
// channel the way a proxy does with SetDataSink and TryWrite: the sink
// takes what TryWrite sends at once, a copier (Read, then Write) takes
// the rest. Both connections re-key every 64 KiB and the data is eight
// times the channel window, so the stream goes through many key
// exchanges, full windows and refusals. It must arrive whole and in
// order, through both paths.
func TestDataSinkRelay(t *testing.T) {
	const (
		msgs = 4096
		size = 4 << 10
	)
	inServer, inClient := connPair(t, 64<<10)
	outServer, outClient := connPair(t, 64<<10)

	var sunk, refused, tapped atomic.Int64
	inServer.SetDataSink(func(p []byte) bool {
		ok, err := outClient.TryWrite(p, func(q []byte) bool {
			tapped.Add(int64(len(q)))
			return true
		})
		if err != nil {
			t.Errorf("TryWrite: %v", err)
		}
		if ok {
			sunk.Add(1)
		} else {
			refused.Add(1)
		}
		return ok
	})
	copied := make(chan error, 1)
	go func() {
		buf := make([]byte, 32<<10)
		for reads := 1; ; reads++ {
			n, err := inServer.Read(buf)
			if n > 0 {
				if reads%5 == 0 {
					// A copier that takes its time with what it read
					// (a proxy's recorder): the sink must wait for it.
					time.Sleep(200 * time.Microsecond)
				}
				if _, werr := outClient.Write(buf[:n]); werr != nil {
					copied <- werr
					return
				}
			}
			if err != nil {
				if err == io.EOF {
					err = outClient.CloseWrite()
				}
				copied <- err
				return
			}
		}
	}()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(outServer)
		got <- b
	}()

	var want bytes.Buffer
	for i := 0; i < msgs; i++ {
		m := numbered(i, size)
		want.Write(m)
		if _, err := inClient.Write(m); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if i%8 == 0 {
			// A pause now and then lets the relay catch up: its
			// reader waits, and the sink gets the next packets.
			time.Sleep(50 * time.Microsecond)
		}
	}
	inClient.CloseWrite()
	if err := <-copied; err != nil {
		t.Fatalf("copier: %v", err)
	}
	var b []byte
	select {
	case b = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the relayed stream did not end")
	}
	if !bytes.Equal(b, want.Bytes()) {
		n := 0
		for n < len(b) && n < want.Len() && b[n] == want.Bytes()[n] {
			n++
		}
		t.Fatalf("relayed %d bytes, want %d; they differ from byte %d (message %d)", len(b), want.Len(), n, n/size)
	}
	t.Logf("the sink took %d packets and refused %d", sunk.Load(), refused.Load())
	if sunk.Load() == 0 || refused.Load() == 0 {
		t.Errorf("sink took %d packets and refused %d: both paths should have carried data", sunk.Load(), refused.Load())
	}
	if tapped.Load() != sunk.Load()*size {
		t.Errorf("before saw %d bytes for %d packets sent by TryWrite", tapped.Load(), sunk.Load())
	}
}

// TestTryWriteRefuses: TryWrite sends nothing, and does not call before,
// when a key exchange is under way, another write holds the connection,
// the peer's window is short or EOF was sent; a refusal by before sends
// nothing either. Each refused message, written afterwards, arrives in
// its place.
func TestTryWriteRefuses(t *testing.T) {
	server, client := connPair(t, 0)
	tr := client.mux.conn.(*handshakeTransport)
	var before []string
	try := func(name string, p []byte, accept bool) bool {
		ok, err := client.TryWrite(p, func(q []byte) bool {
			before = append(before, name)
			if !bytes.Equal(q, p) {
				t.Errorf("%s: before got %q, want %q", name, q, p)
			}
			return accept
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return ok
	}

	if !try("idle", []byte("1"), true) {
		t.Fatal("TryWrite on an idle connection refused")
	}
	if try("refused by before", []byte("x"), false) {
		t.Fatal("TryWrite sent what before refused")
	}
	tr.mu.Lock()
	tr.sentInitMsg = &kexInitMsg{}
	tr.mu.Unlock()
	if try("during a key exchange", []byte("x"), true) {
		t.Error("TryWrite sent during a key exchange")
	}
	tr.mu.Lock()
	tr.sentInitMsg = nil
	if try("another write holds the connection", []byte("x"), true) {
		t.Error("TryWrite sent while another write held the connection")
	}
	tr.mu.Unlock()
	client.remoteWin.L.Lock()
	win := client.remoteWin.win
	client.remoteWin.win = 1
	client.remoteWin.L.Unlock()
	if try("short window", []byte("xx"), true) {
		t.Error("TryWrite sent more than the peer's window")
	}
	client.remoteWin.L.Lock()
	if client.remoteWin.win != 1 {
		t.Errorf("a refused TryWrite left the window at %d, want 1", client.remoteWin.win)
	}
	client.remoteWin.win = win
	client.remoteWin.L.Unlock()
	if !try("again", []byte("2"), true) {
		t.Fatal("TryWrite refused once the connection was free")
	}
	if _, err := client.Write([]byte("3")); err != nil {
		t.Fatal(err)
	}
	client.CloseWrite()
	if try("after EOF", []byte("x"), true) {
		t.Error("TryWrite sent after CloseWrite")
	}
	b, err := io.ReadAll(server)
	if err != nil || string(b) != "123" {
		t.Errorf("the peer read %q, %v; want \"123\"", b, err)
	}
	if want := []string{"idle", "refused by before", "again"}; !equalStrings(before, want) {
		t.Errorf("before was called for %q, want %q", before, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestFastDataLeavesWindowAdjust: the read loop's fast path does not take
// a packet whose receipt makes a window adjustment due (sending it could
// block the read loop); the mux takes it, adjusts the window, and the
// sink still gets the data if its reader is waiting.
func TestFastDataLeavesWindowAdjust(t *testing.T) {
	server, _ := connPair(t, 0)
	var mu sync.Mutex
	var sunk [][]byte
	server.SetDataSink(func(p []byte) bool {
		mu.Lock()
		sunk = append(sunk, append([]byte(nil), p...))
		mu.Unlock()
		return true
	})
	go server.Read(make([]byte, 1)) // waits: the sink takes all
	deadline := time.Now().Add(5 * time.Second)
	for {
		server.pending.Cond.L.Lock()
		idle := server.pending.idle
		server.pending.Cond.L.Unlock()
		if idle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Read did not wait")
		}
		time.Sleep(time.Millisecond)
	}
	packet := func(n int) []byte {
		p := make([]byte, 9+n)
		p[0] = msgChannelData
		binary.BigEndian.PutUint32(p[1:], server.localId)
		binary.BigEndian.PutUint32(p[5:], uint32(n))
		return p
	}
	server.windowMu.Lock()
	size := server.windowSize
	server.windowMu.Unlock()
	if !server.fastData(packet(1024)) {
		t.Fatal("fastData refused a small packet with the window open")
	}
	server.windowMu.Lock()
	server.myWindow = size/2 + 1024
	server.windowMu.Unlock()
	if server.fastData(packet(2048)) {
		t.Error("fastData took a packet that makes a window adjustment due")
	}
	server.windowMu.Lock()
	if server.myWindow != size/2+1024 {
		t.Errorf("a refused packet changed the window to %d", server.myWindow)
	}
	server.windowMu.Unlock()
	mu.Lock()
	if len(sunk) != 1 || len(sunk[0]) != 1024 {
		t.Errorf("the sink got %d packets, want the first one", len(sunk))
	}
	mu.Unlock()
}
