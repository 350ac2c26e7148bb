package proxy

import (
	"io"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/config"
	gossh "golang.org/x/crypto/ssh"
)

// TestWindowCreditComesBack: sessions whose output arrives faster than the
// admin reads it take window credit from the bastion's shared pool, and
// every session gives it all back however it ends (read to the end, the
// admin hanging up mid-transfer, the remote shell killed), so later
// sessions are not left with a drained pool and crawl.
func TestWindowCreditComesBack(t *testing.T) {
	f := newFixture(t, fixtureOpts{config: func(c *config.Config) {
		c.MemoryBudget = config.MemoryBudget{Fixed: 64 << 20}
	}})
	size := int(config.MemoryBudget{Fixed: 64 << 20}.WindowPool())
	if free := f.srv.windows.Free(); free != size {
		t.Fatalf("the pool starts with %d bytes, want %d", free, size)
	}
	run := func(c *gossh.Client, cmd string) gossh.Channel {
		ch, reqs, err := c.OpenChannel("session", nil)
		if err != nil {
			t.Fatal(err)
		}
		go gossh.DiscardRequests(reqs)
		if ok, err := ch.SendRequest("exec", true, gossh.Marshal(struct{ Cmd string }{cmd})); !ok || err != nil {
			t.Fatalf("exec %q: %v %v", cmd, ok, err)
		}
		return ch
	}

	// Stalled: the admin reads nothing; the bastion reads until the
	// admin's window is full and borrows to keep the target sending.
	stalled := f.dial(t, "root@t1")
	ch := run(stalled, "head -c 67108864 /dev/zero")
	buf := make([]byte, 1<<20)
	if _, err := io.ReadFull(ch, buf); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.srv.windows.Free() == size {
		if time.Now().After(deadline) {
			t.Fatal("a busy session borrowed nothing from the window pool")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Read to the end, alongside.
	done := run(f.dial(t, "root@t1"), "head -c 16777216 /dev/zero")
	if n, err := io.Copy(io.Discard, done); err != nil || n != 16<<20 {
		t.Fatalf("read %d bytes, %v; want 16 MiB", n, err)
	}
	// The remote shell killed mid-output.
	killed := run(f.dial(t, "root@t1"), "head -c 8388608 /dev/zero; kill -9 $$")
	if n, err := io.Copy(io.Discard, killed); err != nil || n != 8<<20 {
		t.Fatalf("read %d bytes, %v; want 8 MiB", n, err)
	}
	// The stalled admin hangs up.
	_ = stalled.Close()

	for deadline := time.Now().Add(10 * time.Second); f.srv.ActiveSessions() > 0 || f.srv.windows.Free() != size; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions open; the pool has %d bytes back of %d", f.srv.ActiveSessions(), f.srv.windows.Free(), size)
		}
	}
}
