//go:build faults

package faulttest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/internal/recording"
)

const (
	concSessions = 200     // sessions streaming at the same time
	concBytes    = 2 << 20 // bytes each session's target prints
	// closingLine ends each session's generator; the terminal echoes it
	// after the stream (the bastion keeps echo on).
	closingLine  = "\n"
	concResizes  = 4  // window changes each client sends while it reads
	dialParallel = 32 // clients doing their SSH handshake at the same time
)

// concResult is what one client saw.
type concResult struct {
	i        int
	addr     string   // the client's address, as the bastion records it
	received int      // bytes of output received
	mismatch int      // offset of the first byte that differs from the stream, -1 if none
	sizes    [][2]int // window sizes sent, in order (the first one in pty-req)
	exit     int
	err      error
}

// TestByteExactUnderConcurrency: 200 PTY sessions stream a distinct
// pseudo-random UTF-8 text of 2 MiB each at the same time, through the
// bastion, while their clients resize the window. Every recording decodes
// to exactly the bytes its client received, has an "r" event for each
// window change with the size sent, and the index rows and totals agree
// with the clients and the files.
func TestByteExactUnderConcurrency(t *testing.T) {
	b := newBastion(t, bastionOpts{})
	rss0 := rssMB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var ready sync.WaitGroup
	ready.Add(concSessions)
	start := make(chan struct{})
	dialSem := make(chan struct{}, dialParallel)
	results := make([]concResult, concSessions)
	var peak atomic.Int64
	var wg sync.WaitGroup
	for i := range concSessions {
		wg.Add(1)
		go func() { // owner: this test; ends when the session does
			defer wg.Done()
			results[i] = runConcSession(ctx, b, i, dialSem, &ready, start)
		}()
	}
	ready.Wait()
	began := time.Now()
	close(start)
	go func() { // owner: this test; samples the bastion's open sessions until start is done
		for ctx.Err() == nil {
			if n := int64(b.srv.ActiveSessions()); n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	wg.Wait()
	streamed := time.Since(began)
	cancel()
	rssPeak := procRSSMB(t, "self")

	bad := 0
	for _, r := range results {
		if r.err != nil || r.mismatch >= 0 || r.received != concBytes || r.exit != 0 {
			bad++
			if bad <= 5 {
				t.Errorf("session %d: received %d/%d, first mismatch at %d, exit %d, err %v",
					r.i, r.received, concBytes, r.mismatch, r.exit, r.err)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d clients did not receive their stream intact", bad, concSessions)
	}
	if err := b.waitFinalized(context.Background()); err != nil {
		t.Fatal(err)
	}
	finalized := time.Since(began)
	verifyStart := time.Now()
	checkConcRecordings(t, b, results)
	total := float64(concSessions*concBytes) / (1 << 20)
	t.Logf("faulttest: byte-exact: %d concurrent sessions (peak %d open at the bastion), %.0f MiB of UTF-8 output "+
		"(%d MiB each) with %d resizes each, streamed in %.1fs (%.1f MiB/s through the bastion), all finalized in the index at %.1fs, verified "+
		"in %.1fs; RSS of the test process (clients, bastion and target together) %.0f MiB before, %.0f MiB after streaming",
		concSessions, peak.Load(), total, concBytes>>20, concResizes, streamed.Seconds(), total/streamed.Seconds(),
		finalized.Seconds(), time.Since(verifyStart).Seconds(), rss0, rssPeak)
}

// runConcSession is one client: PTY, wait for the others, exec the
// generator, read and check the stream while resizing, end it with a line.
func runConcSession(ctx context.Context, b *bastion, i int, dialSem chan struct{}, ready *sync.WaitGroup, start <-chan struct{}) (res concResult) {
	res = concResult{i: i, mismatch: -1, exit: -1}
	readyDone := false
	defer func() {
		if !readyDone {
			ready.Done()
		}
	}()
	dialSem <- struct{}{}
	c, err := b.dial("root@t1")
	<-dialSem
	if err != nil {
		res.err = err
		return res
	}
	defer func() { _ = c.Close() }()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	res.addr = c.LocalAddr().String()
	ch, reqs, err := c.OpenChannel("session", nil)
	if err != nil {
		res.err = fmt.Errorf("open session: %w", err)
		return res
	}
	exitc := make(chan int, 1)
	go func() { exitc <- exitStatus(reqs) }() // owner: this session; ends when the channel closes
	first := [2]int{100 + i%50, 30 + i%20}
	res.sizes = append(res.sizes, first)
	pty := ptyReq{Term: "xterm-256color", Columns: uint32(first[0]), Rows: uint32(first[1]), Modes: rawModes()}
	if ok, err := ch.SendRequest("pty-req", true, gossh.Marshal(pty)); !ok || err != nil {
		res.err = fmt.Errorf("pty-req refused (%v)", err)
		return res
	}
	ready.Done()
	readyDone = true
	<-start
	if ok, err := ch.SendRequest("exec", true, gossh.Marshal(struct{ Command string }{genCommand(uint64(1000+i), concBytes)})); !ok || err != nil {
		res.err = fmt.Errorf("exec refused (%v)", err)
		return res
	}
	if err := readStream(ch, i, &res); err != nil {
		res.err = err
		return res
	}
	if _, err := ch.Write([]byte(closingLine)); err != nil {
		res.err = fmt.Errorf("write the closing line: %w", err)
		return res
	}
	if extra, _ := io.ReadAll(ch); string(extra) != closingLine {
		res.err = fmt.Errorf("%q after the stream, want the closing line's echo", extra)
	}
	res.exit = <-exitc
	return res
}

// readStream reads the session's output, compares it with the stream as it
// comes, and sends a window change after each fifth of it.
func readStream(ch gossh.Channel, i int, res *concResult) error {
	want := newStream(uint64(1000+i), concBytes)
	buf := make([]byte, 32<<10)
	exp := make([]byte, 32<<10)
	next := 1
	for res.received < concBytes {
		n, err := ch.Read(buf)
		if n > 0 {
			if _, err := io.ReadFull(want, exp[:n]); err != nil {
				return fmt.Errorf("more output than the stream: %d+%d bytes", res.received, n)
			}
			if res.mismatch < 0 && !bytes.Equal(buf[:n], exp[:n]) {
				for k := range n {
					if buf[k] != exp[k] {
						res.mismatch = res.received + k
						break
					}
				}
			}
			res.received += n
		}
		if err != nil {
			return fmt.Errorf("read output at %d bytes: %w", res.received, err)
		}
		for next <= concResizes && res.received >= next*concBytes/(concResizes+1) {
			sz := [2]int{60 + (i*7+next*13)%120, 20 + (i*3+next*5)%40}
			wc := windowChange{Columns: uint32(sz[0]), Rows: uint32(sz[1])}
			if ok, err := ch.SendRequest("window-change", true, gossh.Marshal(wc)); !ok || err != nil {
				return fmt.Errorf("window-change %v refused (%v)", sz, err)
			}
			res.sizes = append(res.sizes, sz)
			next++
		}
	}
	return nil
}

// checkConcRecordings compares every index row and file with its client.
func checkConcRecordings(t *testing.T, b *bastion, results []concResult) {
	t.Helper()
	ctx := context.Background()
	recs, err := allRecordings(ctx, b.store)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(results) {
		t.Fatalf("index has %d recordings, want %d", len(recs), len(results))
	}
	byAddr := map[string]recording.Meta{}
	for _, r := range recs {
		byAddr[r.ClientAddr] = r
	}
	var sumOut, sumFile, sumDisk int64
	for _, res := range results {
		r, ok := byAddr[res.addr]
		if !ok {
			t.Errorf("session %d (%s): no recording", res.i, res.addr)
			continue
		}
		sumOut += r.BytesOut
		sumFile += r.FileSize
		if fi, err := os.Stat(b.castPath(r)); err == nil {
			sumDisk += fi.Size()
		}
		if err := checkConcRecording(b, r, res); err != nil {
			t.Errorf("session %d: %v", res.i, err)
		}
	}
	st, err := b.store.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(results))
	if st.Count != len(results) || st.ByStatus[recording.StatusFinished] != len(results) ||
		st.TotalFileSize != sumFile || sumFile != sumDisk || sumOut != n*(concBytes+int64(len(closingLine))) {
		t.Errorf("index totals: %+v; rows: %d bytes out (want %d), %d file bytes; on disk %d",
			st, sumOut, n*(concBytes+int64(len(closingLine))), sumFile, sumDisk)
	}
	t.Logf("faulttest: byte-exact: index: %d recordings finished, %d bytes out, %.0f MiB of cast files",
		st.Count, sumOut, float64(sumDisk)/(1<<20))
}

func checkConcRecording(b *bastion, r recording.Meta, res concResult) error {
	if r.Status != recording.StatusFinished || r.ExitStatus == nil || *r.ExitStatus != 0 || r.BytesOut != int64(res.received+len(closingLine)) ||
		r.Width != res.sizes[0][0] || r.Height != res.sizes[0][1] || r.SHA256 == "" {
		return fmt.Errorf("index row %+v", r)
	}
	h, out, sizes, err := castOutput(b.castPath(r))
	if err != nil {
		return err
	}
	if h.Width != res.sizes[0][0] || h.Height != res.sizes[0][1] {
		return fmt.Errorf("header size %dx%d, pty-req %v", h.Width, h.Height, res.sizes[0])
	}
	if want := append(streamBytes(uint64(1000+res.i), concBytes), closingLine...); !bytes.Equal(out, want) {
		at := 0
		for at < min(len(out), len(want)) && out[at] == want[at] {
			at++
		}
		return fmt.Errorf("recording (%d bytes) differs from what the client received (%d bytes) at byte %d: %q vs %q",
			len(out), len(want), at, out[at:min(len(out), at+20)], want[at:min(len(want), at+20)])
	}
	if !slices.Equal(sizes, res.sizes[1:]) {
		return fmt.Errorf("r events %v, window changes sent %v", sizes, res.sizes[1:])
	}
	return nil
}
