// Command jumpcast-tcprelay is a benchmark reference, not a bastion: a
// plain TCP relay in Go. It accepts connections on a loopback port and
// copies bytes to and from one address with io.Copy: no SSH, no crypto,
// no recording. The admin's SSH connection passes through it end to end
// to the target sshd.
//
// It measures what one Go process in the path costs by itself, the part
// of jumpcast's keystroke latency that no SSH relay written in Go can
// avoid. The harness runs it as the tcp-relay path:
//
//	bin/jumpcast-bench -paths direct,proxyjump,jc-rec,tcp-relay -only echo,bulk,setup
//
// It prints the same welcome line as the bastions the harness starts.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	to := flag.String("to", "", "address to relay to (required)")
	flag.Parse()
	err := run(*to) // returns only when it cannot go on
	fmt.Fprintln(os.Stderr, "jumpcast-tcprelay:", err)
	os.Exit(1)
}

func run(to string) error {
	if to == "" {
		return errors.New("-to is required")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("jumpcast-tcprelay: SSH on %s, web on off, relaying to %s\n", ln.Addr(), to)
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go relay(c.(*net.TCPConn), to) // owner: ends when both directions have ended
	}
}

// relay copies between c and a new connection to addr, passing each
// direction's end on as a half-close, as sshd's direct-tcpip does.
func relay(c *net.TCPConn, addr string) {
	defer c.Close()
	u, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	up := u.(*net.TCPConn)
	defer up.Close()
	done := make(chan struct{})
	go func() { // owner: relay; ends at the admin's EOF or an error
		_, _ = io.Copy(up, c)
		_ = up.CloseWrite()
		close(done)
	}()
	_, _ = io.Copy(c, up)
	_ = c.CloseWrite()
	<-done
}
