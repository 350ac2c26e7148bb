package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"unicode"

	"github.com/gliderlabs/ssh"
	"github.com/jumpcast/jumpcast/internal/audit"
	gossh "golang.org/x/crypto/ssh"
)

// ErrServerClosed is returned by Serve after Shutdown or Close. It is
// gliderlabs' sentinel, so errors.Is works with either name.
var ErrServerClosed = ssh.ErrServerClosed

// refusalStatus is the exit status an admin's ssh reports for a session
// the bastion refused, like ssh's own 255 for connection errors.
const refusalStatus = 255

// adminError is a failure the admin is told about in one line,
// "jumpcast: <Msg>". Msg must be safe to print on a terminal; detail for
// the log goes in Err.
type adminError struct {
	Reason audit.Reason // the audit event's Reason and the log line's "reason"
	Msg    string
	Err    error
}

func (e *adminError) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *adminError) Unwrap() error { return e.Err }

// sanitizeLine makes text from elsewhere (a target's prompt, a recorder
// error, an end reason an operator typed) safe to print on the admin's
// terminal: it drops control characters (C0, DEL, C1) and other runes that
// do not print, such as bidi overrides, keeping plain spaces. It is the
// proxy's one such filter.
func sanitizeLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || !unicode.IsPrint(r) && r != ' ' {
			return -1
		}
		return r
	}, s)
}

// line is what the admin's terminal shows.
func (e *adminError) line() string { return "jumpcast: " + e.Msg }

// asAdminError turns any error into an adminError, keeping one if err
// already is one.
func asAdminError(err error, reason audit.Reason, fallback string) *adminError {
	var ae *adminError
	if errors.As(err, &ae) {
		return ae
	}
	return &adminError{Reason: reason, Msg: fallback, Err: err}
}

// sendRefusal ends a session channel the way ssh reports a failure: the
// message on stderr (CRLF when the admin's terminal is in raw mode), exit
// status 255, then EOF and close. Errors are ignored: the admin may already
// be gone.
func sendRefusal(ch gossh.Channel, pty bool, line string) {
	_, _ = ch.Stderr().Write([]byte(termLine(line, pty)))
	_, _ = ch.SendRequest("exit-status", false, gossh.Marshal(exitStatusMsg{Status: refusalStatus}))
	_ = ch.CloseWrite()
	_ = ch.Close()
}

// termLine ends line with CRLF under a PTY (the client's terminal is raw)
// or LF otherwise.
func termLine(line string, pty bool) string {
	if pty {
		return strings.ReplaceAll(line, "\n", "\r\n") + "\r\n"
	}
	return line + "\n"
}

// exitStatusMsg is the payload of "exit-status" (RFC 4254 6.10).
type exitStatusMsg struct {
	Status uint32
}

// dialMessage words a dial error the way ssh does: "connection refused",
// "connection timed out", "no such host".
func dialMessage(err error) string {
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "no such host"
		}
		return "name resolution failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to host"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network is unreachable"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err):
		return "connection timed out"
	default:
		return "connection failed"
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// targetLabel names a target in admin messages: "db1 (10.0.0.5:22)" for
// an alias, "10.0.0.9:22" for a raw host.
func targetLabel(alias, addr string) string {
	if alias == "" {
		return addr
	}
	return fmt.Sprintf("%s (%s)", alias, addr)
}
