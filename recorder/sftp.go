package recorder

import (
	"encoding/binary"
	"strconv"
	"strings"
	"sync"
)

// SFTP v3 request types whose paths are worth a marker
// (draft-ietf-secsh-filexfer-02), plus OpenSSH's posix-rename extension.
const (
	sftpOpen     = 3
	sftpSetstat  = 9
	sftpRemove   = 13
	sftpMkdir    = 14
	sftpRmdir    = 15
	sftpRename   = 18
	sftpSymlink  = 20
	sftpExtended = 200

	sftpMaxKept = 64 << 10 // a longer request of those types is skipped
)

// sftpParser reads the client→server byte stream of an sftp subsystem and
// reports the file operations in it as marker labels. It never buffers
// more than one small request: WRITE payloads and other packets are
// skipped as they stream by. Safe for concurrent use.
type sftpParser struct {
	mark func(label string)

	mu   sync.Mutex // guards the fields below
	head [5]byte    // uint32 length + type of the packet being read
	hn   int        // bytes of head filled
	left int64      // body bytes of the current packet still to come
	keep bool       // the body is collected into body
	body []byte
}

func newSFTPParser(mark func(string)) *sftpParser { return &sftpParser{mark: mark} }

// feed consumes the next bytes of the client→server stream.
func (p *sftpParser) feed(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(b) > 0 {
		if p.hn < len(p.head) {
			n := copy(p.head[p.hn:], b)
			p.hn += n
			b = b[n:]
			if p.hn == len(p.head) {
				p.startPacket()
			}
			continue
		}
		n := int(min(p.left, int64(len(b))))
		if p.keep {
			p.body = append(p.body, b[:n]...)
		}
		p.left -= int64(n)
		b = b[n:]
		if p.left == 0 {
			p.endPacket()
		}
	}
}

func (p *sftpParser) startPacket() {
	length := int64(binary.BigEndian.Uint32(p.head[:4]))
	p.left = length - 1 // the type byte is in head
	p.body = p.body[:0]
	switch p.head[4] {
	case sftpOpen, sftpSetstat, sftpRemove, sftpMkdir, sftpRmdir, sftpRename, sftpSymlink, sftpExtended:
		p.keep = p.left <= sftpMaxKept
	default:
		p.keep = false
	}
	if p.left <= 0 {
		p.left = 0
		p.endPacket()
	}
}

func (p *sftpParser) endPacket() {
	if p.keep {
		if label := sftpLabel(p.head[4], p.body); label != "" {
			p.mark(label)
		}
	}
	p.hn, p.keep = 0, false
}

// sftpLabel describes one request: "sftp open \"/etc/hosts\" (read)".
func sftpLabel(typ byte, body []byte) string {
	r := sftpReader{b: body}
	r.uint32() // request id
	var label string
	switch typ {
	case sftpOpen:
		path := r.string()
		label = "open " + strconv.Quote(path) + " (" + openFlags(r.uint32()) + ")"
	case sftpSetstat:
		label = "setstat " + strconv.Quote(r.string())
	case sftpRemove:
		label = "remove " + strconv.Quote(r.string())
	case sftpMkdir:
		label = "mkdir " + strconv.Quote(r.string())
	case sftpRmdir:
		label = "rmdir " + strconv.Quote(r.string())
	case sftpRename:
		label = "rename " + strconv.Quote(r.string()) + " -> " + strconv.Quote(r.string())
	case sftpSymlink:
		label = "symlink " + strconv.Quote(r.string()) + " " + strconv.Quote(r.string())
	case sftpExtended:
		if r.string() != "posix-rename@openssh.com" {
			return ""
		}
		label = "rename " + strconv.Quote(r.string()) + " -> " + strconv.Quote(r.string())
	}
	if r.bad {
		return ""
	}
	return "sftp " + label
}

func openFlags(f uint32) string {
	var s []string
	for _, fl := range []struct {
		bit  uint32
		name string
	}{{1, "read"}, {2, "write"}, {4, "append"}, {8, "create"}, {0x10, "truncate"}, {0x20, "exclusive"}} {
		if f&fl.bit != 0 {
			s = append(s, fl.name)
		}
	}
	return strings.Join(s, ",")
}

// sftpReader decodes SSH wire types; a short read sets bad.
type sftpReader struct {
	b   []byte
	bad bool
}

func (r *sftpReader) uint32() uint32 {
	if len(r.b) < 4 {
		r.bad = true
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *sftpReader) string() string {
	n := r.uint32()
	if r.bad || uint64(n) > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
