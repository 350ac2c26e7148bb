package proxy

import (
	"bytes"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// mode encodes one terminal mode: opcode and uint32 argument.
func mode(op byte, arg uint32) []byte {
	return []byte{op, byte(arg >> 24), byte(arg >> 16), byte(arg >> 8), byte(arg)}
}

func modesOf(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestTargetModes: the target always gets ECHO 1; the rest of what the
// client sent passes in its order; what cannot be read is replaced by the
// bastion's own modes.
func TestTargetModes(t *testing.T) {
	end := []byte{ttyOpEnd}
	echo1 := mode(ttyOpEcho, 1)
	ispeed, ospeed, icanon := mode(gossh.TTY_OP_ISPEED, 38400), mode(gossh.TTY_OP_OSPEED, 38400), mode(gossh.ICANON, 1)
	for _, tt := range []struct {
		name              string
		client, want      []byte
		echoOff, replaced bool
	}{
		{"echo off, as OpenSSH sends after stty -echo", modesOf(ispeed, mode(ttyOpEcho, 0), icanon, ospeed, end),
			modesOf(ispeed, echo1, icanon, ospeed, end), true, false},
		{"echo on stays", modesOf(echo1, icanon, end), modesOf(echo1, icanon, end), false, false},
		{"echo with any other value", modesOf(mode(ttyOpEcho, 7), end), modesOf(echo1, end), false, false},
		{"no echo given: added", modesOf(ispeed, ospeed, end), modesOf(ispeed, ospeed, echo1, end), false, false},
		{"empty", nil, modesOf(echo1, end), false, false},
		{"only the end", end, modesOf(echo1, end), false, false},
		{"no end", modesOf(icanon), modesOf(icanon, echo1, end), false, false},
		{"echo twice", modesOf(echo1, mode(ttyOpEcho, 0), end), modesOf(echo1, echo1, end), true, false},
		{"bytes after the end dropped", modesOf(icanon, end, mode(ttyOpEcho, 0)), modesOf(icanon, echo1, end), false, false},
		{"an argument cut short", modesOf(icanon, mode(ttyOpEcho, 0)[:3]), safeModes, false, true},
		{"echo off, then cut short", modesOf(mode(ttyOpEcho, 0), []byte{gossh.ICANON, 0}), safeModes, true, true},
		{"opcode 160: cannot go on", modesOf(mode(ttyOpEcho, 0), []byte{160, 1, 2}, end), safeModes, true, true},
		{"opcode 255", modesOf(icanon, []byte{255}), safeModes, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, echoOff, replaced := targetModes(tt.client)
			if !bytes.Equal(got, tt.want) || echoOff != tt.echoOff || replaced != tt.replaced {
				t.Errorf("targetModes(% x) = % x, echo off %v, replaced %v; want % x, %v, %v",
					tt.client, got, echoOff, replaced, tt.want, tt.echoOff, tt.replaced)
			}
		})
	}
	if !bytes.Equal(safeModes, modesOf(echo1, end)) {
		t.Errorf("safe modes % x", safeModes)
	}
}

// FuzzTargetModes: whatever a client sends, the target gets a modes
// string that parses to its end with ECHO 1 and no ECHO 0.
func FuzzTargetModes(f *testing.F) {
	f.Add([]byte{ttyOpEcho, 0, 0, 0, 0, ttyOpEnd})
	f.Add([]byte{gossh.ICANON, 0, 0, 0, 1, 200, 1})
	f.Fuzz(func(t *testing.T, client []byte) {
		got, _, _ := targetModes(client)
		echo := false
		for b := got; ; b = b[5:] {
			if len(b) == 0 {
				t.Fatalf("% x: no TTY_OP_END", got)
			}
			if b[0] == ttyOpEnd {
				if len(b) != 1 {
					t.Fatalf("% x: bytes after TTY_OP_END", got)
				}
				break
			}
			if b[0] >= ttyOpNoArg || len(b) < 5 {
				t.Fatalf("% x: unreadable", got)
			}
			if b[0] == ttyOpEcho {
				if arg := b[1:5]; !bytes.Equal(arg, []byte{0, 0, 0, 1}) {
					t.Fatalf("% x: ECHO % x", got, arg)
				}
				echo = true
			}
		}
		if !echo {
			t.Fatalf("% x: no ECHO", got)
		}
	})
}
