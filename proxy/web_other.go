//go:build !unix

package proxy

import (
	"errors"
	"net"
)

// socketPair is unix-only: the terminal in the browser needs one.
func socketPair() (net.Conn, net.Conn, error) {
	return nil, nil, errors.New("the web terminal needs Unix socket pairs")
}
