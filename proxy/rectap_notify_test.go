package proxy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// backgroundRecorder stands for recorder.Session, which writes on a
// goroutine of its own: its failure is reported through NotifyFailure, not
// by a call the bridge makes.
type backgroundRecorder struct{ started chan *backgroundSession }

func (r *backgroundRecorder) Start(context.Context, recorder.SessionInfo) (SessionRecorder, error) {
	s := &backgroundSession{}
	r.started <- s
	return s, nil
}

type backgroundSession struct {
	mu sync.Mutex // guards fn
	fn func(error)
}

func (*backgroundSession) Output([]byte) error                         { return nil }
func (*backgroundSession) Input([]byte) error                          { return nil }
func (*backgroundSession) Resize(int, int) error                       { return nil }
func (*backgroundSession) Close(context.Context, asciicast.Exit) error { return nil }

func (s *backgroundSession) NotifyFailure(fn func(error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fn = fn
}

// fail reports err as the recorder's worker would, once fn is set.
func (s *backgroundSession) fail(t *testing.T, err error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		fn := s.fn
		s.mu.Unlock()
		if fn != nil {
			fn(err)
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the bridge never called NotifyFailure")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRecordingFailsWhileIdle: a recording that fails in the background
// while the session prints nothing still ends a fail-closed session at
// once, with the admin's one-line message and status 255, and is audited.
func TestRecordingFailsWhileIdle(t *testing.T) {
	rec := &backgroundRecorder{started: make(chan *backgroundSession, 1)}
	f := newFixture(t, fixtureOpts{recorder: rec})
	c := f.dial(t, "root@t1")
	s := openRaw(t, c)
	s.request("exec", true, execMsg{"sleep 15"})
	var bs *backgroundSession
	select {
	case bs = <-rec.started:
	case <-time.After(10 * time.Second):
		t.Fatal("recording never started")
	}
	start := time.Now()
	bs.fail(t, errors.New("write recording: no space left on device"))
	r := s.wait()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("session ended %v after the failure", took)
	}
	if !strings.Contains(string(r.stderr), "jumpcast: recording failed; session ended") || r.status != 255 {
		t.Errorf("stderr %q status %d", r.stderr, r.status)
	}
	if ev := f.audit.waitEvent(t, audit.KindRecording, audit.OutcomeError); !strings.Contains(string(ev.Reason), "no space left") {
		t.Errorf("audit = %+v", ev)
	}
}
