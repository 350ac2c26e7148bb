package recorder

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
)

// IndexCommand returns the command that writes the index of the closed
// compressed recording rel (keyframes included) in another process: a
// child that opens the same recordings folder and runs WriteIndex there
// (jumpcast's hidden `index-keyframes` command). It only builds the
// command; the Dir starts it.
type IndexCommand func(rel string) *exec.Cmd

// IndexInChild makes WriteIndex run cmd in a child process instead of
// emulating the terminal in this one. The child is to run IndexChild,
// which lowers it to the lowest CPU and I/O priority (nice 19,
// best-effort I/O level 7, on Linux) before anything else: making
// keyframes replays a recording's whole output through a terminal
// emulator, minutes of CPU for a big one, and it must never take a core
// from the sessions, nor hold the emulator's memory in the bastion. The
// child is killed if this process dies, and by Close. A recording whose
// data file is at most inProcessIndexMax bytes is still indexed in this
// process. Call it before the Dir is used.
func (d *Dir) IndexInChild(cmd IndexCommand) { d.indexCmd = cmd }

// IndexChild is the whole of the child process IndexInChild's command
// runs: it lowers its own priority, then writes the index of the
// recording rel in the recordings folder at folder (Dir.WriteIndex, in
// this process), and closes the folder. The priority is lowered by the
// child, after exec: lowered in the parent's starting thread, the child
// would wait at nice 19 between fork and exec while sharing the parent's
// memory, which a busy machine can make long.
func IndexChild(folder, rel string) error {
	lowerPriority()
	d, err := OpenDir(folder)
	if err != nil {
		return err
	}
	return errors.Join(d.WriteIndex(rel), d.Close())
}

// maxChildStderr bounds what a failing child's error message keeps.
const maxChildStderr = 4 << 10

// writeIndexInChild runs d.indexCmd(rel) and waits for it. Close kills it;
// a child killed by Close is not a failure (the recording's readers make
// keyframes on demand, and the next start queues it again).
func (d *Dir) writeIndexInChild(rel string) error {
	cmd := d.indexCmd(rel)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = nil, &capped{buf: &stderr, max: maxChildStderr}
	setParentDeath(cmd)
	done := make(chan error, 1)
	go func() { // owner: this call, which waits for it
		// The child's parent-death signal follows the thread that
		// started it: that thread stays locked to this goroutine until
		// the child has exited, and then ends with it.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			done <- err
			return
		}
		if !d.trackChild(cmd) {
			_ = cmd.Process.Kill()
		}
		err := cmd.Wait()
		d.untrackChild(cmd)
		done <- err
	}()
	err := <-done
	if err == nil {
		return nil
	}
	d.mu.Lock()
	stopped := d.closing
	d.mu.Unlock()
	if stopped {
		return nil
	}
	var exit *exec.ExitError
	if msg := strings.TrimSpace(stderr.String()); errors.As(err, &exit) && msg != "" {
		return fmt.Errorf("index recording %s: %s", rel, lastLine(msg))
	}
	return fmt.Errorf("index recording %s: %w", rel, err)
}

func (d *Dir) trackChild(c *exec.Cmd) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return false
	}
	if d.children == nil {
		d.children = map[*exec.Cmd]struct{}{}
	}
	d.children[c] = struct{}{}
	return true
}

func (d *Dir) untrackChild(c *exec.Cmd) {
	d.mu.Lock()
	delete(d.children, c)
	d.mu.Unlock()
}

// lastLine is the last line of s.
func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// capped keeps the first max bytes written to it and drops the rest.
type capped struct {
	buf *bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
