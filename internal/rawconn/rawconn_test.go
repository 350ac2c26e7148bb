package rawconn

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bound is how long any single blocking step in these tests may take.
const bound = 5 * time.Second

// pair returns the two ends of a fresh loopback TCP connection; both are
// closed when the test ends.
func pair(tb testing.TB) (client, server *net.TCPConn) {
	tb.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	client, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { client.Close() })
	if err := ln.SetDeadline(time.Now().Add(bound)); err != nil {
		tb.Fatal(err)
	}
	server, err = ln.AcceptTCP()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { server.Close() })
	return client, server
}

// wrapped returns Wrap(c), failing the test unless it is a new value.
func wrapped(tb testing.TB, c *net.TCPConn) net.Conn {
	tb.Helper()
	w := Wrap(c)
	if w == net.Conn(c) {
		tb.Fatal("Wrap returned the *net.TCPConn itself")
	}
	if _, ok := w.(*net.TCPConn); ok {
		tb.Fatalf("Wrap returned a *net.TCPConn")
	}
	return w
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	p := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	return p
}

type ioResult struct {
	n   int
	err error
}

// await returns the result from ch, failing the test if it takes longer
// than d.
func await(t *testing.T, ch <-chan ioResult, d time.Duration, what string) ioResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
		return ioResult{}
	}
}

// wantOpError fails the test unless err is a *net.OpError for op.
func wantOpError(t *testing.T, err error, op string) *net.OpError {
	t.Helper()
	oe, ok := err.(*net.OpError)
	if !ok {
		t.Fatalf("error %v is %T, want *net.OpError", err, err)
	}
	if oe.Op != op || oe.Net != "tcp" || oe.Source == nil || oe.Addr == nil {
		t.Fatalf("error %v: Op %q Net %q Source %v Addr %v, want Op %q on tcp with both addresses",
			err, oe.Op, oe.Net, oe.Source, oe.Addr, op)
	}
	return oe
}

// readAll reads from c until an error; it returns what it read and that error.
func readAll(c net.Conn) ([]byte, error) {
	var got []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, err
		}
	}
}

// A wrapped conn carries a large stream one way and small messages the
// other, concurrently, byte for byte.
func TestWrapCarriesDataBothWays(t *testing.T) {
	c, s := pair(t)
	w := wrapped(t, c)
	if err := s.SetDeadline(time.Now().Add(bound)); err != nil {
		t.Fatal(err)
	}
	if err := w.SetDeadline(time.Now().Add(bound)); err != nil {
		t.Fatal(err)
	}

	big := randomBytes(4<<20, 1)
	const msgs = 100
	wrote := make(chan ioResult, 1)
	go func() {
		n, err := w.Write(big)
		wrote <- ioResult{n, err}
	}()
	peerGot := make(chan []byte, 1)
	peerErr := make(chan error, 1)
	go func() {
		// The peer reads the stream and, along the way, sends messages back.
		got := make([]byte, 0, len(big))
		buf := make([]byte, 64<<10)
		sent := 0
		for len(got) < len(big) {
			n, err := s.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				peerGot <- got
				peerErr <- err
				return
			}
			if sent < msgs {
				if _, err := s.Write([]byte{'m', byte(sent)}); err != nil {
					peerGot <- got
					peerErr <- err
					return
				}
				sent++
			}
		}
		for ; sent < msgs; sent++ {
			if _, err := s.Write([]byte{'m', byte(sent)}); err != nil {
				peerGot <- got
				peerErr <- err
				return
			}
		}
		peerGot <- got
		peerErr <- nil
	}()

	back := make([]byte, 2*msgs)
	if _, err := io.ReadFull(w, back); err != nil {
		t.Fatalf("reading messages from the peer: %v", err)
	}
	for i := 0; i < msgs; i++ {
		if back[2*i] != 'm' || back[2*i+1] != byte(i) {
			t.Fatalf("message %d from the peer is %q, want %q", i, back[2*i:2*i+2], []byte{'m', byte(i)})
		}
	}
	r := <-wrote
	if r.err != nil || r.n != len(big) {
		t.Fatalf("Write = %d, %v; want %d, nil", r.n, r.err, len(big))
	}
	got, err := <-peerGot, <-peerErr
	if err != nil {
		t.Fatalf("peer: %v", err)
	}
	if !bytes.Equal(got, big) {
		t.Fatalf("peer received %d bytes that differ from the %d sent", len(got), len(big))
	}
}

// Wrap hands back any conn that is not a *net.TCPConn unchanged.
func TestWrapLeavesOtherConnsAlone(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := Wrap(a); got != a {
		t.Fatalf("Wrap(net.Pipe end) = %T %p, want the same conn %p", got, got, a)
	}
}

// Once the peer stops sending, Read hands out every byte still pending and
// then returns exactly io.EOF, again on every later call.
func TestReadEOF(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(*net.TCPConn) error
	}{
		{"CloseWrite", (*net.TCPConn).CloseWrite},
		{"Close", (*net.TCPConn).Close},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s := pair(t)
			w := wrapped(t, c)
			if err := w.SetReadDeadline(time.Now().Add(bound)); err != nil {
				t.Fatal(err)
			}
			want := []byte("last words")
			if _, err := s.Write(want); err != nil {
				t.Fatal(err)
			}
			if err := tc.stop(s); err != nil {
				t.Fatal(err)
			}
			got, err := readAll(w)
			if err != io.EOF {
				t.Fatalf("Read error = %#v, want io.EOF itself", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("read %q before EOF, want %q", got, want)
			}
			if n, err := w.Read(make([]byte, 8)); n != 0 || err != io.EOF {
				t.Fatalf("Read after EOF = %d, %v; want 0, io.EOF", n, err)
			}
		})
	}
}

// Read and Write with empty buffers return 0, nil at once, without
// blocking on an idle conn and without consuming pending data.
func TestEmptyBuffers(t *testing.T) {
	c, s := pair(t)
	w := wrapped(t, c)
	done := make(chan ioResult, 1)
	go func() {
		if n, err := w.Read(nil); n != 0 || err != nil {
			done <- ioResult{n, err}
			return
		}
		if n, err := w.Read([]byte{}); n != 0 || err != nil {
			done <- ioResult{n, err}
			return
		}
		n, err := w.Write(nil)
		done <- ioResult{n, err}
	}()
	if r := await(t, done, bound, "empty Read/Write on an idle conn"); r.n != 0 || r.err != nil {
		t.Fatalf("empty Read/Write = %d, %v; want 0, nil", r.n, r.err)
	}

	if _, err := s.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if n, err := w.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) with data pending = %d, %v; want 0, nil", n, err)
	}
	if err := w.SetReadDeadline(time.Now().Add(bound)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if n, err := w.Read(buf); n != 1 || err != nil || buf[0] != 'x' {
		t.Fatalf("Read = %d, %v (%q); want 1, nil (\"x\")", n, err, buf[:n])
	}
}

// A read deadline on an idle conn makes Read fail with a timeout when it
// passes, not before; once cleared, reads work again.
func TestReadDeadline(t *testing.T) {
	c, s := pair(t)
	w := wrapped(t, c)
	const d = 50 * time.Millisecond
	start := time.Now()
	if err := w.SetReadDeadline(start.Add(d)); err != nil {
		t.Fatal(err)
	}
	done := make(chan ioResult, 1)
	go func() {
		n, err := w.Read(make([]byte, 16))
		done <- ioResult{n, err}
	}()
	r := await(t, done, bound, "Read past its deadline")
	if elapsed := time.Since(start); elapsed < d-5*time.Millisecond {
		t.Errorf("Read timed out after %v, before its %v deadline", elapsed, d)
	}
	if r.n != 0 {
		t.Errorf("Read returned n = %d on an idle conn", r.n)
	}
	if !errors.Is(r.err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read error = %v, want os.ErrDeadlineExceeded", r.err)
	}
	var ne net.Error
	if !errors.As(r.err, &ne) || !ne.Timeout() {
		t.Fatalf("Read error %v is not a net.Error with Timeout() true", r.err)
	}
	wantOpError(t, r.err, "read")

	if err := w.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("again")); err != nil {
		t.Fatal(err)
	}
	go func() {
		n, err := io.ReadFull(w, make([]byte, 5))
		done <- ioResult{n, err}
	}()
	if r := await(t, done, bound, "Read after clearing the deadline"); r.n != 5 || r.err != nil {
		t.Fatalf("Read after clearing the deadline = %d, %v; want 5, nil", r.n, r.err)
	}
}

// Closing the conn from another goroutine ends a blocked Read promptly with
// net.ErrClosed.
func TestCloseUnblocksRead(t *testing.T) {
	c, _ := pair(t)
	w := wrapped(t, c)
	done := make(chan ioResult, 1)
	go func() {
		n, err := w.Read(make([]byte, 16))
		done <- ioResult{n, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("Read on an idle conn returned %d, %v", r.n, r.err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := await(t, done, 2*time.Second, "Read blocked at Close")
	if !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("Read error = %v, want net.ErrClosed", r.err)
	}
	wantOpError(t, r.err, "read")
}

// shrinkBuffers makes the kernel buffer little between w and its peer s.
func shrinkBuffers(t *testing.T, c, s *net.TCPConn) {
	t.Helper()
	if err := c.SetWriteBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
	if err := s.SetReadBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
}

// One Write far larger than the socket buffers waits while the peer does
// not read, and once it does, returns len(p), nil with every byte delivered.
func TestWriteLargerThanBuffers(t *testing.T) {
	c, s := pair(t)
	w := wrapped(t, c)
	shrinkBuffers(t, c, s)
	if err := w.SetWriteDeadline(time.Now().Add(bound)); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(8<<20, 2)
	done := make(chan ioResult, 1)
	go func() {
		n, err := w.Write(data)
		done <- ioResult{n, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("Write of %d bytes returned %d, %v while the peer was not reading", len(data), r.n, r.err)
	case <-time.After(100 * time.Millisecond):
	}

	if err := s.SetReadDeadline(time.Now().Add(bound)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	if _, err := io.ReadFull(s, got); err != nil {
		t.Fatalf("peer read: %v", err)
	}
	r := await(t, done, bound, "Write")
	if r.n != len(data) || r.err != nil {
		t.Fatalf("Write = %d, %v; want %d, nil", r.n, r.err, len(data))
	}
	if !bytes.Equal(got, data) {
		t.Fatal("peer received different bytes than were written")
	}
}

// A write deadline ends a Write the peer does not drain with a timeout, and
// the n it returns is exactly how many bytes the peer gets.
func TestWriteDeadline(t *testing.T) {
	c, s := pair(t)
	w := wrapped(t, c)
	shrinkBuffers(t, c, s)
	data := randomBytes(8<<20, 3)
	if err := w.SetWriteDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	done := make(chan ioResult, 1)
	go func() {
		n, err := w.Write(data)
		done <- ioResult{n, err}
	}()
	r := await(t, done, bound, "Write past its deadline")
	if !errors.Is(r.err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write error = %v, want os.ErrDeadlineExceeded", r.err)
	}
	var ne net.Error
	if !errors.As(r.err, &ne) || !ne.Timeout() {
		t.Fatalf("Write error %v is not a net.Error with Timeout() true", r.err)
	}
	wantOpError(t, r.err, "write")
	if r.n <= 0 || r.n >= len(data) {
		t.Fatalf("Write returned n = %d, want some but not all of %d", r.n, len(data))
	}

	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if err := s.SetReadDeadline(time.Now().Add(bound)); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(s)
	if err != io.EOF {
		t.Fatalf("peer read: %v", err)
	}
	if len(got) != r.n || !bytes.Equal(got, data[:r.n]) {
		t.Fatalf("peer received %d bytes, Write reported %d", len(got), r.n)
	}
}

// Writing to a conn whose peer has gone fails with EPIPE or ECONNRESET
// rather than killing the process with SIGPIPE.
func TestWriteAfterPeerClosed(t *testing.T) {
	c, s := pair(t)
	w := wrapped(t, c)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.SetWriteDeadline(time.Now().Add(bound)); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	var err error
	for err == nil {
		_, err = w.Write(chunk)
	}
	if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Write error = %v, want EPIPE or ECONNRESET", err)
	}
	oe := wantOpError(t, err, "write")
	var se *os.SyscallError
	if !errors.As(oe.Err, &se) || se.Syscall != "write" {
		t.Fatalf("Write error %v does not hold an *os.SyscallError for write", err)
	}
}

// A reset from the peer shows up in Read as ECONNRESET inside a "read"
// *net.OpError.
func TestReadConnReset(t *testing.T) {
	c, s := pair(t)
	w := wrapped(t, c)
	if err := s.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // sends RST
		t.Fatal(err)
	}
	if err := w.SetReadDeadline(time.Now().Add(bound)); err != nil {
		t.Fatal(err)
	}
	n, err := w.Read(make([]byte, 16))
	if n != 0 || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read = %d, %v; want 0, ECONNRESET", n, err)
	}
	oe := wantOpError(t, err, "read")
	var se *os.SyscallError
	if !errors.As(oe.Err, &se) || se.Syscall != "read" {
		t.Fatalf("Read error %v does not hold an *os.SyscallError for read", err)
	}
}

// A caller gets the same errors, word for word, from a wrapped conn as from
// the *net.TCPConn under it: one *net.OpError with the cause directly
// inside.
func TestErrorsMatchTCPConn(t *testing.T) {
	c, _ := pair(t)
	w := wrapped(t, c)
	same := func(what string, got, want error, op string) {
		t.Helper()
		wantOpError(t, want, op)
		oe := wantOpError(t, got, op)
		if got.Error() != want.Error() {
			t.Errorf("%s: wrapped error %q, *net.TCPConn error %q", what, got, want)
		}
		if oe.Err != want.(*net.OpError).Err {
			t.Errorf("%s: wrapped OpError.Err is %T %v, want %T %v",
				what, oe.Err, oe.Err, want.(*net.OpError).Err, want.(*net.OpError).Err)
		}
	}
	buf := make([]byte, 1)
	if err := c.SetDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	_, want := c.Read(buf)
	_, got := w.Read(buf)
	same("read past deadline", got, want, "read")
	_, want = c.Write(buf)
	_, got = w.Write(buf)
	same("write past deadline", got, want, "write")

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_, want = c.Read(buf)
	_, got = w.Read(buf)
	same("read after Close", got, want, "read")
	_, want = c.Write(buf)
	_, got = w.Write(buf)
	same("write after Close", got, want, "write")
}

// echo writes back every byte it reads from c until Read fails.
func echo(c net.Conn) {
	buf := make([]byte, 1)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

// BenchmarkEchoRoundTrip times a 1-byte ping-pong over loopback, with both
// ends plain *net.TCPConn ("net") or both wrapped ("rawconn").
func BenchmarkEchoRoundTrip(b *testing.B) {
	for _, bc := range []struct {
		name string
		wrap func(net.Conn) net.Conn
	}{
		{"net", func(c net.Conn) net.Conn { return c }},
		{"rawconn", Wrap},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, s := pair(b)
			client, server := bc.wrap(c), bc.wrap(s)
			done := make(chan struct{})
			go func() {
				defer close(done)
				echo(server)
			}()
			buf := []byte{'p'}
			for b.Loop() {
				if _, err := client.Write(buf); err != nil {
					b.Fatal(err)
				}
				if _, err := client.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
			client.Close()
			<-done
		})
	}
}
