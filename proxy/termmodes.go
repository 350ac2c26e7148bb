package proxy

import "encoding/binary"

// Terminal mode opcodes of a pty-req (RFC 4254 section 8).
const (
	ttyOpEnd  = 0  // ends the modes
	ttyOpEcho = 53 // ECHO: the terminal echoes what is typed
	// ttyOpNoArg is the first opcode whose argument RFC 4254 leaves
	// undefined: 1 to 159 take a uint32, and "opcodes 160 to 255 are not
	// yet defined, and cause parsing to stop".
	ttyOpNoArg = 160
)

// safeModes are the terminal modes the bastion sends when it cannot read
// the client's: echo on, everything else as the target's pty starts.
var safeModes = []byte{ttyOpEcho, 0, 0, 0, 1, ttyOpEnd}

// targetModes returns the terminal modes the bastion sends the target for
// a client's pty-req modes: the bastion owns them, so that what the admin
// types is echoed, and so recorded. They are the client's, in the client's
// order and unchanged, except that ECHO is 1 (added when the client did
// not set it) and whatever follows TTY_OP_END is dropped. Modes the
// bastion cannot read — an argument cut short, or an opcode of 160 or
// more, whose argument's size is unknown — are replaced by safeModes
// (replaced). echoOff reports that the client asked for ECHO 0 in what
// could be read.
func targetModes(client []byte) (modes []byte, echoOff, replaced bool) {
	out := make([]byte, 0, len(client)+5)
	echoSet := false
	for b := client; ; {
		if len(b) == 0 || b[0] == ttyOpEnd {
			break
		}
		op := b[0]
		if op >= ttyOpNoArg || len(b) < 5 {
			return safeModes, echoOff, true
		}
		arg := binary.BigEndian.Uint32(b[1:5])
		if op == ttyOpEcho {
			echoOff = echoOff || arg == 0
			arg, echoSet = 1, true
		}
		out = append(out, op)
		out = binary.BigEndian.AppendUint32(out, arg)
		b = b[5:]
	}
	if !echoSet {
		out = append(out, ttyOpEcho, 0, 0, 0, 1)
	}
	return append(out, ttyOpEnd), echoOff, false
}
