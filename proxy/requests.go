package proxy

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jumpcast/jumpcast/internal/audit"
	gossh "golang.org/x/crypto/ssh"
)

// Channel request types the bridge knows.
const (
	reqAgent = "auth-agent-req@openssh.com"
)

// ptyReq is the payload of "pty-req" (RFC 4254 6.2). The target receives
// it as the client sent it but for the terminal modes (see targetModes).
type ptyReq struct {
	Term          string
	Columns, Rows uint32
	Width, Height uint32
	Modes         string
}

// windowChange is the payload of "window-change" (RFC 4254 6.7).
type windowChange struct {
	Columns, Rows uint32
	Width, Height uint32
}

// envReq is the payload of "env" (RFC 4254 6.4).
type envReq struct {
	Name, Value string
}

// stringReq is the payload of "exec" and "subsystem".
type stringReq struct {
	Value string
}

// exitSignalMsg is the payload of "exit-signal" (RFC 4254 6.10).
type exitSignalMsg struct {
	Signal     string
	CoreDumped bool
	Message    string
	Lang       string
}

// alwaysRefusedEnv are variables a client may never set on a target,
// whatever ssh.env_allow says: they change how programs are loaded or how
// shells start (a login shell that honours them runs the client's code).
var alwaysRefusedEnv = []string{
	"LD_*", "DYLD_*", "BASH_ENV", "ENV", "BASH_FUNC_*", "IFS", "PATH", "SHELLOPTS", "BASHOPTS",
	"PS4", "PROMPT_COMMAND", "PERL5OPT", "PERL5LIB", "PERLLIB", "PYTHON*", "RUBYOPT", "RUBYLIB",
	"NODE_OPTIONS", "GCONV_PATH", "GLIBC_TUNABLES", "MALLOC_*", "HOSTALIASES", "LOCALDOMAIN",
	"RES_OPTIONS", "LOCPATH", "NLSPATH", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "TMPDIR",
	"HOME", "SHELL", "USER", "LOGNAME", "MAIL", "SSH_*", "XDG_*",
}

// envAllowed reports whether a client may set name=value on the target:
// name matches the allow-list and none of alwaysRefusedEnv, and both are
// of sane size without NUL.
func envAllowed(allow []string, name, value string) bool {
	if name == "" || len(name) > 256 || len(value) > 8192 || strings.ContainsRune(name+value, 0) || strings.Contains(name, "=") {
		return false
	}
	if anyMatch(alwaysRefusedEnv, name) {
		return false
	}
	return anyMatch(allow, name)
}

// parsePty parses a pty-req payload; ok is false when it is malformed.
func parsePty(payload []byte) (ptyReq, bool) {
	var p ptyReq
	if err := gossh.Unmarshal(payload, &p); err != nil {
		return ptyReq{}, false
	}
	return p, true
}

// kindOf maps a start request to the recording kind and its command.
func kindOf(r *gossh.Request) (kind, command string, ok bool) {
	switch r.Type {
	case "shell":
		return "shell", "", true
	case "exec", "subsystem":
		var s stringReq
		if err := gossh.Unmarshal(r.Payload, &s); err != nil {
			return "", "", false
		}
		if r.Type == "exec" {
			return "exec", s.Value, true
		}
		// The kind is the index's label: the subsystem named "sftp" is
		// sftp. Whether a session's streams are recorded as SFTP is the
		// recorder's decision, from the bytes (recorder's sftp watch),
		// whatever the request's kind.
		if s.Value == "sftp" {
			return "sftp", s.Value, true
		}
		return "subsystem", s.Value, true
	}
	return "", "", false
}

// controlRefusal refuses an exec command or subsystem name (typ is the
// request type) that holds a control character other than tab: C0, DEL,
// C1, or a lone byte 0x80 to 0x9F. The target would not run what the
// recording shows (sshd cuts a subsystem name at a NUL), and a line break
// or an escape sequence would change how the command reads in a listing.
// The message names the character and its byte offset, not the string.
func controlRefusal(typ, s string) *adminError {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			r = rune(s[i]) // a lone byte: 0x80-0x9F is C1 to an 8-bit terminal
		}
		if r != '\t' && (r < 0x20 || r >= 0x7f && r <= 0x9f) {
			what := "exec command"
			if typ == "subsystem" {
				what = "subsystem name"
			}
			return &adminError{Reason: audit.ReasonControlCharacter,
				Msg: fmt.Sprintf("%s refused: it holds a control character (U+%04X at byte %d)", what, r, i)}
		}
		i += size
	}
	return nil
}

// reply answers r when it wants an answer.
func reply(r *gossh.Request, ok bool) {
	if r.WantReply {
		_ = r.Reply(ok, nil)
	}
}

// pumpRequests moves requests from in to the returned channel through an
// unbounded (capped) queue, so a session busy connecting to its target
// never stalls the admin's whole connection: x/crypto delivers requests on
// a small buffered channel and blocks the connection's read loop when it
// is full. The returned channel closes after in closes and the queue is
// delivered; the reader must drain it.
func pumpRequests(in <-chan *gossh.Request) <-chan *gossh.Request {
	const maxQueued = 1024
	out := make(chan *gossh.Request)
	go func() { // owner: the session that drains out
		defer close(out)
		var q []*gossh.Request
		for in != nil || len(q) > 0 {
			var send chan<- *gossh.Request
			var first *gossh.Request
			if len(q) > 0 {
				send, first = out, q[0]
			}
			recv := in
			if len(q) >= maxQueued {
				recv = nil // back-pressure: let x/crypto's buffer fill
			}
			select {
			case r, ok := <-recv:
				if !ok {
					in = nil
					continue
				}
				q = append(q, r)
			case send <- first:
				q[0] = nil
				q = q[1:]
			}
		}
	}()
	return out
}
