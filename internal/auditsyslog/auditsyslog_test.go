package auditsyslog

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/auditsyslog/syslogtest"
)

// index is the next sink: what the audit trail stored.
type index struct {
	mu  sync.Mutex
	evs []audit.Event
}

func (x *index) AppendAudit(_ context.Context, ev audit.Event) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.evs = append(x.evs, ev)
	return nil
}

func event(i int) audit.Event {
	return audit.Event{Time: time.Date(2026, 12, 4, 9, 0, i, 0, time.UTC), Kind: audit.KindAuth, Outcome: audit.OutcomeDenied,
		Who: audit.Who{RemoteAddr: fmt.Sprintf("203.0.113.9:%d", 40000+i)}, Reason: "no authorized key"}
}

// TestSyslogDelivers: events reach a real rsyslogd over TCP, in order,
// each as the event's JSON with its kind as MSGID, and only after the
// index took them.
func TestSyslogDelivers(t *testing.T) {
	col := syslogtest.StartCollector(t, syslogtest.FreePort(t), nil)
	idx := &index{}
	s, err := New(idx, Options{Address: "tcp://" + col.Addr, Hostname: "bastion-1"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if err := s.AppendAudit(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close(5 * time.Second)
	ids, evs := col.Received(t, 50)
	if len(evs) != 50 || len(idx.evs) != 50 {
		t.Fatalf("collector got %d, index %d, want 50 each", len(evs), len(idx.evs))
	}
	for i, ev := range evs {
		if ids[i] != "auth" || ev.RemoteAddr != event(i).RemoteAddr || !ev.Time.Equal(event(i).Time) {
			t.Errorf("message %d: %s %+v", i, ids[i], ev)
		}
	}
}

// TestSyslogWaitsForTheCollector: events made while the collector is down
// wait in the queue and arrive when it is up; a full queue drops the
// oldest from the syslog copy only, and says so.
func TestSyslogWaitsForTheCollector(t *testing.T) {
	addr := syslogtest.FreePort(t)
	idx := &index{}
	s, err := New(idx, Options{Address: "tcp://" + addr, Queue: 30})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		if err := s.AppendAudit(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
	}
	if s.Dropped() != 10 || s.Pending() != 30 {
		t.Errorf("dropped %d, pending %d; want 10 and 30", s.Dropped(), s.Pending())
	}
	col := syslogtest.StartCollector(t, addr, nil)
	_, evs := col.Received(t, 30)
	s.Close(5 * time.Second)
	if len(evs) != 30 || evs[0].RemoteAddr != event(10).RemoteAddr || evs[29].RemoteAddr != event(39).RemoteAddr {
		t.Errorf("after the collector came up it got %d events (first %+v)", len(evs), evs)
	}
	if len(idx.evs) != 40 {
		t.Errorf("the index has %d events, want all 40", len(idx.evs))
	}
}

// TestSyslogOverTLS: the same through rsyslog's TLS listener, with the
// collector's certificate checked against the configured authority; a
// collector whose certificate is not signed by it gets nothing.
func TestSyslogOverTLS(t *testing.T) {
	files, pool := syslogtest.MakeTLSFiles(t)
	col := syslogtest.StartCollector(t, syslogtest.FreePort(t), files)
	s, err := New(&index{}, Options{Address: "tls://" + col.Addr,
		TLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		_ = s.AppendAudit(context.Background(), event(i))
	}
	s.Close(5 * time.Second)
	if _, evs := col.Received(t, 5); len(evs) != 5 {
		t.Errorf("collector got %d events over TLS, want 5", len(evs))
	}

	_, otherPool := syslogtest.MakeTLSFiles(t)
	col2 := syslogtest.StartCollector(t, syslogtest.FreePort(t), files)
	s2, err := New(&index{}, Options{Address: "tls://" + col2.Addr,
		TLS: &tls.Config{RootCAs: otherPool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	_ = s2.AppendAudit(context.Background(), event(1))
	time.Sleep(500 * time.Millisecond)
	if n := s2.Pending(); n != 1 {
		t.Errorf("an untrusted collector: %d events still pending, want 1 (not sent)", n)
	}
	s2.Close(100 * time.Millisecond)
	if _, evs := col2.Read(t); len(evs) != 0 {
		t.Errorf("an untrusted collector got %d events", len(evs))
	}
}
