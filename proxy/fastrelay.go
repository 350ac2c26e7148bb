package proxy

import (
	"net"

	"github.com/jumpcast/jumpcast/internal/rawconn"
	gossh "golang.org/x/crypto/ssh"
)

// The relay's fast path. A keystroke through the bastion crossed four
// goroutines per direction in x/crypto alone (the connection's read loop,
// its mux, the channel buffer's reader, the other connection's writer),
// each hand-off a scheduler wake-up of 8 µs median on a busy 2-core
// machine; that was most of jumpcast's echo latency above ProxyJump's.
// jumpcast's x/crypto (patch 0008) lets a channel hand its data to a sink
// in the connection's read loop while its reader waits with nothing in
// hand, and lets the sink send it with TryWrite, which never waits. The
// copy loops (bridge_end.go) stay as they were and carry whatever the
// fast path refuses, so order is kept: the sink runs only while the copy
// loop has passed on everything it read.

// dataSink and tryWriter are the channel methods patch 0008 adds.
type dataSink interface {
	SetDataSink(func([]byte) bool)
}

type tryWriter interface {
	TryWrite(data []byte, before func([]byte) bool) (bool, error)
}

// fastMax is the largest packet the fast path takes. Larger ones come in
// bulk transfers, where a copy loop is awake anyway and the read loop
// should not spend its time writing to the other connection.
const fastMax = 8 << 10

// packetOverhead bounds what SSH adds to a data packet on the wire
// (header, padding, MAC or tag).
const packetOverhead = 128

// fastRelay passes src's data to dst in src's connection read loop when
// dst can take it at once: TryWrite needs no waiting, dstConn (the TCP
// connection under dst) has room for the packet in its send buffer, so
// that the write cannot hold up src's read loop while the peer is slow,
// and tap (recTap.tryInput or tryOutput) takes it for the recording
// without waiting. Once the packet is sent, apply (recTap.apply) writes
// the recording, still in the read loop: cheaper than waking a goroutine,
// and the keystroke is already on its way. It does nothing for channels
// without patch 0008's methods, or when dstConn's send queue cannot be
// measured (the web terminal's in-process conn).
func fastRelay(src, dst gossh.Channel, dstConn net.Conn, tap func([]byte) bool, apply func()) {
	s, ok1 := src.(dataSink)
	w, ok2 := dst.(tryWriter)
	room := rawconn.SendRoom(dstConn)
	if !ok1 || !ok2 || room == nil {
		return
	}
	s.SetDataSink(func(p []byte) bool {
		if len(p) > fastMax || !room(len(p)+packetOverhead) {
			return false
		}
		ok, _ := w.TryWrite(p, tap)
		if ok {
			apply()
		}
		return ok
	})
}
