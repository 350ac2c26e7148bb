package asciicast

import (
	"bytes"
	"io"
	"unicode/utf8"
)

// Sanitizer is an io.Writer that passes on to a real terminal what draws
// its screen and drops what a recording could use against the person who
// plays it: clipboard (OSC 52), title (OSC 0/1/2) and every other OSC,
// DCS/SOS/PM/APC strings, every query whose answer the terminal would type
// into the auditor's shell (DSR CSI 5n/6n, DA CSI c / >c / =c, DECRQSS,
// DECRQM, XTVERSION, CSI t window reports, ENQ, DECID …), mouse, focus and
// keyboard-mode switches that outlive playback, and C1 controls.
//
// It is deny by default: a sequence passes only when the allow-lists below
// name it (SGR, cursor moves, erase, insert/delete, scroll regions and
// scrolling, tab stops, the alternate screen, cursor visibility and shape,
// autowrap, origin mode, bracketed paste, synchronized output, charset
// designation, save/restore cursor, resets). Hyperlinks (OSC 8) are dropped
// too: their text stays on the screen, only the target goes, and a link
// whose text and target differ is how a recording would steer an auditor
// elsewhere.
//
// Why it is safe whatever the terminal: it never writes part of a
// sequence. It holds an escape or CSI sequence until it has seen all of it
// (so a sequence split across events or writes is judged whole), writes it
// only if allowed, and writes text only in the ground state. The terminal
// therefore parses exactly what the Sanitizer parsed, starting each time
// from its ground state. Text is taken as UTF-8 (what a recording holds):
// U+0080–U+009F, which terminals may execute as C1 controls, begin a
// (dropped) sequence like their ESC equivalents, and a byte that is not
// UTF-8 is written as U+FFFD. Control characters that draw (BEL, BS, HT,
// LF, VT, FF, CR, SO, SI) pass, also in the middle of a sequence, where a
// terminal executes them in place; other C0 controls (ENQ asks for the
// answerback) and DEL are dropped.
//
// Dropped counts the sequences and controls dropped. Close drops a
// sequence still incomplete at the end (a recording cut mid-sequence would
// otherwise leave the terminal inside it). A Sanitizer is not safe for
// concurrent use.
type Sanitizer struct {
	w       io.Writer
	out     []byte // what one Write passes on
	state   sanState
	seq     []byte // the escape or CSI sequence held until judged
	utf     []byte // bytes of a UTF-8 character split across writes
	utfBuf  [utf8.UTFMax]byte
	str     bool // the string being dropped is an OSC (BEL ends it)
	dropped int
}

type sanState uint8

const (
	sanGround    sanState = iota
	sanEsc                // after ESC (seq holds the ESC and any intermediates)
	sanCSI                // inside CSI (seq holds it so far)
	sanCSIIgnore          // inside a malformed or overlong CSI, dropped at its final byte (0x40–0x7e)
	sanEscIgnore          // after ESC and too many intermediates, dropped at the final byte (0x30–0x7e)
	sanString             // inside OSC, DCS, SOS, PM or APC: dropped up to ST
	sanStringEsc          // ESC inside a string: ST if '\' follows
)

// maxSeq bounds a held sequence: a CSI longer than this (no screen-drawing
// one is) is dropped whole.
const maxSeq = 256

// NewSanitizer returns a Sanitizer writing to w.
func NewSanitizer(w io.Writer) *Sanitizer {
	s := &Sanitizer{w: w}
	s.utf = s.utfBuf[:0]
	return s
}

// Write filters p and writes what is kept to the underlying writer in one
// call. It returns len(p) unless that write fails.
func (s *Sanitizer) Write(p []byte) (int, error) {
	s.out = s.out[:0]
	for _, b := range p {
		s.decode(b)
	}
	return len(p), s.flushOut()
}

// Close ends the stream: a sequence still incomplete is dropped (and
// counted), an incomplete UTF-8 character is written as U+FFFD. It does
// not close the underlying writer.
func (s *Sanitizer) Close() error {
	s.out = s.out[:0]
	if len(s.utf) > 0 {
		s.utf = s.utf[:0]
		s.token(tokBad, 0, nil)
	}
	if s.state != sanGround {
		s.drop()
	}
	return s.flushOut()
}

// Dropped returns how many sequences and control characters were dropped
// so far.
func (s *Sanitizer) Dropped() int { return s.dropped }

func (s *Sanitizer) flushOut() error {
	if len(s.out) == 0 {
		return nil
	}
	if _, err := s.w.Write(s.out); err != nil {
		return err
	}
	return nil
}

// Tokens, from the UTF-8 layer to the state machine.
const (
	tokASCII = iota // one byte < 0x80
	tokC1           // a C1 control: U+0080–U+009F, or such a byte outside UTF-8
	tokChar         // a UTF-8 character from U+00A0 on
	tokBad          // a byte that is not UTF-8: written as U+FFFD
)

// decode joins UTF-8 characters (also across writes) and hands tokens to
// the state machine.
func (s *Sanitizer) decode(b byte) {
	if len(s.utf) == 0 {
		switch {
		case b < utf8.RuneSelf:
			s.token(tokASCII, b, nil)
		case b <= 0x9f:
			s.token(tokC1, b, []byte{b})
		case b >= 0xc2 && b <= 0xf4:
			s.utf = append(s.utf, b)
		default:
			s.token(tokBad, 0, nil)
		}
		return
	}
	s.utf = append(s.utf, b)
	if !utf8.FullRune(s.utf) {
		return
	}
	r, size := utf8.DecodeRune(s.utf)
	if r == utf8.RuneError && size == 1 {
		// Not UTF-8: the lead byte is bad, the bytes after it start over.
		rest := append([]byte(nil), s.utf[1:]...)
		s.utf = s.utf[:0]
		s.token(tokBad, 0, nil)
		for _, c := range rest {
			s.decode(c)
		}
		return
	}
	ch := s.utf
	s.utf = s.utf[:0]
	if r <= 0x9f {
		s.token(tokC1, byte(r), ch)
		return
	}
	s.token(tokChar, 0, ch)
}

// C0 controls.
const (
	bel = 0x07
	can = 0x18
	sub = 0x1a
	esc = 0x1b
	del = 0x7f
)

// drawingC0 reports whether a C0 control draws (and so passes).
func drawingC0(b byte) bool {
	switch b {
	case bel, '\b', '\t', '\n', '\v', '\f', '\r', 0x0e, 0x0f: // 0x0e, 0x0f: SO, SI
		return true
	}
	return false
}

// token runs the state machine on one token. b is the byte of an ASCII
// token or the code of a C1 one; ch the bytes of a character or C1.
func (s *Sanitizer) token(kind int, b byte, ch []byte) {
	if s.state == sanString || s.state == sanStringEsc {
		s.inString(kind, b, ch)
		return
	}
	switch {
	case kind == tokC1:
		if s.state != sanGround {
			s.drop()
		}
		s.c1(b)
		return
	case kind != tokASCII: // text
		if s.state != sanGround {
			s.drop() // a character inside a sequence ends it
		}
		if kind == tokBad {
			s.out = utf8.AppendRune(s.out, utf8.RuneError)
		} else {
			s.out = append(s.out, ch...)
		}
		return
	case b == esc:
		if s.state != sanGround {
			s.drop()
		}
		s.state, s.seq = sanEsc, append(s.seq[:0], esc)
		return
	case b == can || b == sub:
		s.drop() // ends a sequence; itself dropped either way
		return
	case b == del:
		if s.state == sanGround {
			s.dropped++
		} // inside a sequence a terminal ignores it: so do we
		return
	case b < 0x20:
		if drawingC0(b) {
			s.out = append(s.out, b) // executed in place, even mid-sequence
		} else {
			s.dropped++
		}
		return
	}
	switch s.state {
	case sanGround:
		s.out = append(s.out, b)
	case sanEsc:
		s.inEsc(b)
	case sanCSI:
		s.inCSI(b)
	case sanCSIIgnore:
		if b >= 0x40 {
			s.drop()
		}
	case sanEscIgnore:
		if b >= 0x30 {
			s.drop()
		}
	}
}

// drop ends the sequence in progress (if any) without writing it, and
// counts one dropped sequence or control.
func (s *Sanitizer) drop() {
	s.dropped++
	s.state, s.seq = sanGround, s.seq[:0]
}

// keep writes the sequence held and returns to ground.
func (s *Sanitizer) keep() {
	s.out = append(s.out, s.seq...)
	s.state, s.seq = sanGround, s.seq[:0]
}

// c1 starts what C1 control code starts, like ESC (code-0x40) would. Every
// C1 sequence is dropped: programs write 7-bit sequences, and a terminal
// may or may not execute U+0080–U+009F, so none is trusted.
func (s *Sanitizer) c1(code byte) {
	switch code {
	case 0x9b: // CSI: drop through its final byte
		s.state = sanCSIIgnore
	case 0x90, 0x98, 0x9d, 0x9e, 0x9f: // DCS, SOS, OSC, PM, APC
		s.state, s.str = sanString, code == 0x9d
	default: // a one-character control (NEL, IND, DECID, ST …)
		s.dropped++
	}
}

// inEsc handles a printable ASCII byte after ESC (and its intermediates).
func (s *Sanitizer) inEsc(b byte) {
	inter := len(s.seq) > 1
	switch {
	case b >= 0x20 && b <= 0x2f: // intermediate
		if len(s.seq) >= 3 {
			s.state = sanEscIgnore // no allowed escape sequence has more
			return
		}
		s.seq = append(s.seq, b)
	case !inter && b == '[':
		s.state, s.seq = sanCSI, append(s.seq, b)
	case !inter && (b == ']' || b == 'P' || b == 'X' || b == '^' || b == '_'):
		s.state, s.str, s.seq = sanString, b == ']', s.seq[:0]
	default: // final byte
		s.seq = append(s.seq, b)
		if escAllowed(s.seq[1:len(s.seq)-1], b) {
			s.keep()
		} else {
			s.drop()
		}
	}
}

// inCSI handles a printable ASCII byte inside CSI. Its shape is ECMA-48's:
// an optional private prefix ('<' '=' '>' '?'), parameters (digits, ';',
// ':'), intermediates (0x20–0x2f), a final byte (0x40–0x7e). Anything
// else, or more than maxSeq bytes, makes it malformed: dropped at its final
// byte, as a terminal ignores it.
func (s *Sanitizer) inCSI(b byte) {
	body := s.seq[2:] // after ESC [
	switch {
	case b >= 0x40: // final
		s.seq = append(s.seq, b)
		if csiAllowed(body, b) {
			s.keep()
		} else {
			s.drop()
		}
		return
	case len(s.seq) >= maxSeq:
		s.state = sanCSIIgnore
		return
	case b >= 0x3c && b <= 0x3f: // private prefix: first only
		if len(body) > 0 {
			s.state = sanCSIIgnore
			return
		}
	case b >= 0x30: // parameter bytes: not after an intermediate
		if n := len(body); n > 0 && body[n-1] < 0x30 {
			s.state = sanCSIIgnore
			return
		}
	}
	s.seq = append(s.seq, b)
}

// inString drops a string's content up to its end: ST (ESC \ or U+009C),
// BEL for an OSC, CAN or SUB; ESC followed by anything but '\', or a C1
// control, ends it and starts what they start.
func (s *Sanitizer) inString(kind int, b byte, ch []byte) {
	if s.state == sanStringEsc {
		s.drop()
		if kind == tokASCII && b == '\\' {
			return
		}
		s.state, s.seq = sanEsc, append(s.seq[:0], esc)
		s.token(kind, b, ch)
		return
	}
	switch {
	case kind == tokC1:
		s.drop()
		if b != 0x9c { // ST ends the string; another C1 starts its own
			s.c1(b)
		}
	case kind != tokASCII:
	case b == esc:
		s.state = sanStringEsc
	case b == can || b == sub || (b == bel && s.str):
		s.drop()
	}
}

// escAllowed reports whether ESC inter final draws the screen: save and
// restore the cursor, index, next line, tab set, reverse index, back and
// forward index, full reset, screen alignment and line size (ESC # …),
// and charset designation and shifts. Everything else is dropped: DECID
// (ESC Z) is a query, keypad modes change what keys send, ESC % switches
// the terminal out of UTF-8, ESC SP F/G its C1 reporting.
func escAllowed(inter []byte, final byte) bool {
	switch len(inter) {
	case 0:
		return bytes.IndexByte([]byte("78DEHM69cnoNO|}~"), final) >= 0
	case 1:
		switch inter[0] {
		case '#':
			return bytes.IndexByte([]byte("34568"), final) >= 0
		case '(', ')', '*', '+', '-', '.', '/':
			return true // designate a charset
		}
	case 2:
		// A 94-character set with a two-byte name: ESC ( " 4 and the like.
		return bytes.IndexByte([]byte("()*+-./"), inter[0]) >= 0 && inter[1] >= 0x21
	}
	return false
}

// drawingModes are the DEC private modes (CSI ? Pm h / l) that pass: they
// change how the screen is drawn. The others (cursor-key and keypad
// modes, mouse and focus reporting, alternate scroll, 132 columns, which
// resizes the window, …) change what the auditor's keys and mouse send or
// act on the window, and outlive playback.
var drawingModes = map[string]bool{
	"5": true, "6": true, "7": true, "12": true, "25": true, "45": true, "69": true, // reverse video, origin, autowrap, blink, cursor shown, reverse wrap, margins
	"47": true, "1047": true, "1048": true, "1049": true, // alternate screen, saved cursor
	"2004": true, // bracketed paste
	"2026": true, // synchronized output
}

// csiAllowed reports whether the CSI sequence with body (prefix,
// parameters, intermediates) and final draws the screen.
func csiAllowed(body []byte, final byte) bool {
	var prefix byte
	if len(body) > 0 && body[0] >= 0x3c && body[0] <= 0x3f {
		prefix, body = body[0], body[1:]
	}
	i := len(body)
	for i > 0 && body[i-1] < 0x30 {
		i--
	}
	params, inter := body[:i], body[i:]
	switch {
	case prefix == 0 && len(inter) == 0:
		switch final {
		case '@', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'P', 'S', 'X', 'Z',
			'`', 'a', 'b', 'd', 'e', 'f', 'g', 'm', 'r', 's', 'u':
			// Cursor moves, erase, insert/delete, scroll, tabs, SGR,
			// scroll region, save/restore cursor.
			return true
		case 'T': // scroll down; with 5 parameters, mouse highlight tracking
			return bytes.Count(params, []byte(";")) == 0
		case 'h', 'l': // ANSI modes: insert (4) and new-line (20) draw; 2 locks the keyboard, 12 echoes locally
			return modesIn(params, map[string]bool{"4": true, "20": true})
		}
	case prefix == '?' && len(inter) == 0:
		switch final {
		case 'h', 'l':
			return modesIn(params, drawingModes)
		case 'J', 'K': // selective erase
			return true
		}
	case prefix == 0 && len(inter) == 1:
		// DECSCUSR (cursor shape), DECSTR (soft reset).
		return (inter[0] == ' ' && final == 'q') || (inter[0] == '!' && final == 'p')
	}
	return false
}

// modesIn reports whether every parameter of a mode set or reset is in
// allowed (one that is not drops the whole sequence).
func modesIn(params []byte, allowed map[string]bool) bool {
	if len(params) == 0 {
		return false
	}
	for p := range bytes.SplitSeq(params, []byte(";")) {
		if !allowed[string(p)] {
			return false
		}
	}
	return true
}
