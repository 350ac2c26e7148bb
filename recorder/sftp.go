package recorder

import (
	"encoding/binary"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// SFTP packet types (draft-ietf-secsh-filexfer-02, version 3, as OpenSSH
// speaks it), plus OpenSSH's posix-rename extension.
const (
	sftpInit     = 1
	sftpVersion  = 2
	sftpOpen     = 3
	sftpSetstat  = 9
	sftpRemove   = 13
	sftpMkdir    = 14
	sftpRmdir    = 15
	sftpRename   = 18
	sftpSymlink  = 20
	sftpExtended = 200

	sftpMaxKept = 64 << 10 // a longer request of a marked type is skipped
	// sftpMaxPacket is the longest packet either side may send:
	// OpenSSH's sftp-server and sftp client both drop the connection
	// above 256 KiB (SFTP_MAX_MSG_LENGTH).
	sftpMaxPacket = 256 << 10
	// sftpMaxInit bounds the first packet, SSH_FXP_INIT: a version and,
	// in later drafts, a few extension pairs; OpenSSH's is 5 bytes long.
	sftpMaxInit = 1 << 10
)

// sftpRequest reports whether a client may send packets of type t after
// SSH_FXP_INIT: the requests of versions 3 to 6 and SSH_FXP_EXTENDED.
func sftpRequest(t byte) bool { return t >= 3 && t <= 23 || t == sftpExtended }

// sftpResponse reports whether a server may send packets of type t after
// SSH_FXP_VERSION: STATUS to ATTRS and SSH_FXP_EXTENDED_REPLY.
func sftpResponse(t byte) bool { return t >= 101 && t <= 105 || t == 201 }

// Modes of an sftpWatch. A watch only moves forward: sniffing, then
// speaking or raw; speaking, then raw.
const (
	watchSniffing int32 = iota // no packet header seen yet
	watchSpeaking              // SFTP both ways: requests become markers, data is not recorded
	watchRaw                   // not SFTP: everything is recorded as it is
)

// sftpWatch decides whether a session's streams speak SFTP, whatever
// started the session (the sftp subsystem, an exec of sftp-server, any
// other subsystem), and while they do turns the client's requests into
// markers instead of recording the streams.
//
// A session speaks SFTP when the first bytes it carries are the client's
// SSH_FXP_INIT (uint32 length of 5 to 1 KiB, type 1); output first, or any
// other first packet, and it never does. While it speaks SFTP, every packet
// both ways must keep being one: the server's first is SSH_FXP_VERSION,
// then each has a known request (client) or response (server) type and a
// length of 5 bytes to 256 KiB. The first packet that is not ends SFTP
// for the rest of the session: a marker says so and from that packet's
// first byte on both streams are recorded as they are, so that a fake INIT
// sent to a shell cannot keep the commands that follow out of the
// recording.
//
// feed is safe for concurrent use; mode may be read without the lock.
type sftpWatch struct {
	mode atomic.Int32 // watchSniffing, watchSpeaking, watchRaw; set under mu

	mu  sync.Mutex // guards in and out, and is held while feed reports
	in  sftpFramer // client → server
	out sftpFramer // server → client
}

// sftpReport receives what a watch found, in stream order, from feed:
// marker labels, and bytes to record as they are (output or input).
type sftpReport interface {
	marker(label string)
	data(output bool, p []byte)
}

func newSFTPWatch() *sftpWatch {
	w := &sftpWatch{}
	w.in = sftpFramer{valid: sftpRequest, first: sftpInit, firstMax: sftpMaxInit, keepLabels: true, answeredBy: &w.out}
	w.out = sftpFramer{valid: sftpResponse, first: sftpVersion, firstMax: sftpMaxPacket}
	return w
}

// raw reports whether the watch has decided that the streams are not, or
// are no longer, SFTP: every later byte is recorded as it is, and feed
// need not be called.
func (w *sftpWatch) raw() bool { return w.mode.Load() == watchRaw }

// speaking reports whether the streams speak SFTP now.
func (w *sftpWatch) speaking() bool { return w.mode.Load() == watchSpeaking }

// feed takes the next bytes of one direction and reports to r, before it
// returns and under the watch's lock (so that reports of concurrent calls
// keep their order), the markers and the bytes to record. Once the watch
// is raw, feed reports every byte as data.
func (w *sftpWatch) feed(output bool, p []byte, r sftpReport) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.mode.Load() {
	case watchRaw:
		r.data(output, p)
		return
	case watchSniffing:
		if output { // the server spoke first: not SFTP
			r.data(false, w.in.partial()) // the start of an INIT that never completed
			r.data(true, p)
			w.mode.Store(watchRaw)
			return
		}
	}
	f, other := &w.in, &w.out
	if output {
		f, other = other, f
	}
	held, at, why := f.feed(p, r)
	if why == "" {
		if w.in.packets > 0 {
			w.mode.Store(watchSpeaking)
		}
		return
	}
	if w.in.packets > 0 { // the INIT was accepted: the streams spoke SFTP
		stream := "input"
		if output {
			stream = "output"
		}
		r.marker("[sftp ends: " + stream + " is not SFTP (" + why + "); the rest is recorded as it is]")
	}
	// What the other direction holds of a header came first; then the
	// packet that is not SFTP, from its first byte.
	r.data(!output, other.partial())
	r.data(output, held)
	r.data(output, p[at:])
	w.mode.Store(watchRaw)
}

// end reports, when the session ends, what the watch still holds: the
// start of a packet header that never completed (at most 4 bytes each
// way), with a marker if the streams spoke SFTP. After it the watch is
// raw if it reported anything.
func (w *sftpWatch) end(r sftpReport) {
	w.mu.Lock()
	defer w.mu.Unlock()
	in, out := w.in.partial(), w.out.partial()
	if w.mode.Load() == watchRaw || len(in)+len(out) == 0 {
		return
	}
	if w.mode.Load() == watchSpeaking {
		r.marker("[sftp ends: the session ended inside a packet header; its bytes follow]")
	}
	r.data(false, in)
	r.data(true, out)
	w.mode.Store(watchRaw)
}

// sftpFramer follows one direction's packets: it checks each header and
// skips bodies, keeping only the small bodies of the requests that make
// markers. The caller serializes calls.
type sftpFramer struct {
	valid      func(t byte) bool // the types allowed after the first packet
	first      byte              // the type the first packet must have
	firstMax   int64             // the first packet's longest length
	keepLabels bool              // the client's side: requests become markers
	// answeredBy, on the client's side, is the server's framer: a
	// request after INIT must come after the server's VERSION (clients
	// wait for it, and the proxy records each byte before passing it on,
	// so the VERSION reaches the watch first).
	answeredBy *sftpFramer

	packets int     // packet headers accepted so far
	head    [5]byte // uint32 length + type of the packet being read
	hn      int     // bytes of head filled
	left    int64   // body bytes of the current packet still to come
	keep    bool    // the body is collected into body
	body    []byte
}

// feed consumes p. When a packet header is not SFTP, it returns why, the
// bytes of that header that came in earlier calls (held), and the offset
// in p of its first byte in p (at). Markers go to r.
func (f *sftpFramer) feed(p []byte, r sftpReport) (held []byte, at int, why string) {
	for off := 0; off < len(p); {
		if f.hn < len(f.head) {
			before := f.hn
			n := copy(f.head[f.hn:], p[off:])
			f.hn += n
			off += n
			if f.hn == len(f.head) {
				if why := f.startPacket(); why != "" {
					return f.head[:before], off - n, why
				}
			}
			continue
		}
		n := int(min(f.left, int64(len(p)-off)))
		if f.keep {
			f.body = append(f.body, p[off:off+n]...)
		}
		f.left -= int64(n)
		off += n
		if f.left == 0 {
			f.endPacket(r)
		}
	}
	return nil, 0, ""
}

// partial returns the start of a packet header not yet complete, or nil.
func (f *sftpFramer) partial() []byte {
	if f.hn == len(f.head) {
		return nil
	}
	return f.head[:f.hn]
}

// startPacket checks a complete header and starts the packet's body; it
// returns why the header is not SFTP, or "".
func (f *sftpFramer) startPacket() string {
	length := int64(binary.BigEndian.Uint32(f.head[:4]))
	typ := f.head[4]
	maxLen := int64(sftpMaxPacket)
	if f.packets == 0 {
		maxLen = f.firstMax
		if typ != f.first {
			return "first packet of type " + strconv.Itoa(int(typ))
		}
	} else if !f.valid(typ) {
		return "packet type " + strconv.Itoa(int(typ))
	} else if f.answeredBy != nil && f.answeredBy.packets == 0 {
		return "a request before the server's version"
	}
	if length < 5 || length > maxLen {
		return "packet length " + strconv.FormatInt(length, 10)
	}
	f.packets++
	f.left = length - 1 // the type byte is in head
	f.body = f.body[:0]
	f.keep = false
	if f.keepLabels {
		switch typ {
		case sftpOpen, sftpSetstat, sftpRemove, sftpMkdir, sftpRmdir, sftpRename, sftpSymlink, sftpExtended:
			f.keep = f.left <= sftpMaxKept
		}
	}
	return ""
}

func (f *sftpFramer) endPacket(r sftpReport) {
	if f.keep {
		if label := sftpLabel(f.head[4], f.body); label != "" {
			r.marker(label)
		}
	}
	f.hn, f.keep = 0, false
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
