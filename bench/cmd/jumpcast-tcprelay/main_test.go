package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// TestRelayHalfClose sends 1 MiB through the relay to a target that
// answers only after the client's end of input: both the bytes and the
// half-close must pass, or the answer never comes.
func TestRelayHalfClose(t *testing.T) {
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	go acceptAll(target, func(c net.Conn) {
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "got %d", n)
		_ = c.Close()
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go acceptAll(ln, func(c net.Conn) { relay(c.(*net.TCPConn), target.Addr().String()) })

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(reply) != "got 1048576" {
		t.Fatalf("reply %q, want %q", reply, "got 1048576")
	}
}

// acceptAll serves each connection of ln with serve, in its own goroutine,
// until ln is closed.
func acceptAll(ln net.Listener, serve func(net.Conn)) { // owner: the test
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go serve(c)
	}
}
