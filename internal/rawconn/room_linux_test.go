package rawconn

import (
	"net"
	"testing"
	"time"
)

// SendRoom's function says yes on an idle connection and no once the peer
// stops reading and the send buffer fills, which is when a Write would
// wait; there is none for a conn it cannot measure.
func TestSendRoom(t *testing.T) {
	c, s := pair(t)
	shrinkBuffers(t, c, s)
	w := wrapped(t, c)
	room := SendRoom(w)
	if room == nil {
		t.Fatal("no SendRoom for a wrapped TCP conn")
	}
	if !room(1024) {
		t.Fatal("no room on an idle connection")
	}
	if room(1 << 30) {
		t.Error("room for 1 GiB in a 16 KiB send buffer")
	}
	// Fill the buffers without waiting: the peer does not read.
	if err := w.SetWriteDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n, err := w.Write(make([]byte, 8<<20)); err == nil {
		t.Fatalf("wrote %d bytes to a peer that does not read", n)
	}
	if room(1024) {
		t.Error("room reported with the send buffer full")
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if SendRoom(a) != nil {
		t.Error("room measured for a conn that is not TCP")
	}
}
