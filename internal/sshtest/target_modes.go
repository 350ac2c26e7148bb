package sshtest

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Terminal mode opcodes of RFC 4254 section 8 that map to a Linux termios flag.
var (
	modeIflags = map[byte]uint32{
		30: unix.IGNPAR, 31: unix.PARMRK, 32: unix.INPCK, 33: unix.ISTRIP, 34: unix.INLCR,
		35: unix.IGNCR, 36: unix.ICRNL, 37: unix.IUCLC, 38: unix.IXON, 39: unix.IXANY,
		40: unix.IXOFF, 41: unix.IMAXBEL, 42: unix.IUTF8,
	}
	modeLflags = map[byte]uint32{
		50: unix.ISIG, 51: unix.ICANON, 52: unix.XCASE, 53: unix.ECHO, 54: unix.ECHOE,
		55: unix.ECHOK, 56: unix.ECHONL, 57: unix.NOFLSH, 58: unix.TOSTOP, 59: unix.IEXTEN,
		60: unix.ECHOCTL, 61: unix.ECHOKE, 62: unix.PENDIN,
	}
	modeOflags = map[byte]uint32{
		70: unix.OPOST, 71: unix.OLCUC, 72: unix.ONLCR, 73: unix.OCRNL, 74: unix.ONOCR, 75: unix.ONLRET,
	}
	modeCflags = map[byte]uint32{90: unix.CS7, 91: unix.CS8, 92: unix.PARENB, 93: unix.PARODD}
	modeChars  = map[byte]int{
		1: unix.VINTR, 2: unix.VQUIT, 3: unix.VERASE, 4: unix.VKILL, 5: unix.VEOF, 6: unix.VEOL,
		7: unix.VEOL2, 8: unix.VSTART, 9: unix.VSTOP, 10: unix.VSUSP, 12: unix.VREPRINT,
		13: unix.VWERASE, 14: unix.VLNEXT, 18: unix.VDISCARD,
	}
)

// applyModes sets the encoded terminal modes of a pty-req on tty. Opcodes without a
// Linux equivalent are ignored; the speeds (128, 129) are ignored too. Parsing stops
// at TTY_OP_END (0) or at the first opcode from 160 on, as RFC 4254 says.
func applyModes(tty *os.File, modes string) error {
	if modes == "" {
		return nil
	}
	conn, err := tty.SyscallConn()
	if err != nil {
		return fmt.Errorf("terminal modes: %w", err)
	}
	var ctlErr error
	err = conn.Control(func(fd uintptr) {
		tio, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		if err != nil {
			ctlErr = err
			return
		}
		setModes(tio, []byte(modes))
		ctlErr = unix.IoctlSetTermios(int(fd), unix.TCSETS, tio)
	})
	if err == nil {
		err = ctlErr
	}
	if err != nil {
		return fmt.Errorf("terminal modes: %w", err)
	}
	return nil
}

// setModes applies the (opcode, uint32) pairs of b to tio.
func setModes(tio *unix.Termios, b []byte) {
	for len(b) >= 5 {
		op, arg := b[0], binary.BigEndian.Uint32(b[1:5])
		if op == 0 || op >= 160 {
			return
		}
		b = b[5:]
		if c, ok := modeChars[op]; ok {
			tio.Cc[c] = uint8(arg)
			continue
		}
		setFlag(&tio.Iflag, modeIflags, op, arg)
		setFlag(&tio.Lflag, modeLflags, op, arg)
		setFlag(&tio.Oflag, modeOflags, op, arg)
		if bit, ok := modeCflags[op]; ok && (op == 90 || op == 91) {
			if arg != 0 {
				tio.Cflag = tio.Cflag&^unix.CSIZE | bit
			}
			continue
		}
		setFlag(&tio.Cflag, modeCflags, op, arg)
	}
}

// setFlag sets or clears the bit that op names in table, if any.
func setFlag(flags *uint32, table map[byte]uint32, op byte, arg uint32) {
	bit, ok := table[op]
	if !ok {
		return
	}
	if arg != 0 {
		*flags |= bit
	} else {
		*flags &^= bit
	}
}

// sendBreak sends a BREAK on the terminal (tcsendbreak), without making ptmx
// blocking as File.Fd would.
func sendBreak(f *os.File) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ioErr error
	if err := conn.Control(func(fd uintptr) { ioErr = unix.IoctlSetInt(int(fd), unix.TCSBRK, 0) }); err != nil {
		return err
	}
	return ioErr
}
