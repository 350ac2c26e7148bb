// Package auditsyslog sends audit events to a SIEM as RFC 5424 syslog
// messages over TCP or TLS (RFC 5425), framed by octet counting (RFC
// 6587), one message per event with the event's JSON (the stored format)
// as its text.
//
// Delivery: the index stays the complete record. The sink passes each
// event to the next sink (the index) first, and only an event the index
// took is queued for syslog, so syslog never holds an event the audit
// trail lacks. The queue is bounded (Options.Queue): while the collector
// is unreachable, events wait and are sent in order when it is back
// (reconnecting with backoff); when the queue is full the oldest waiting
// event is dropped, counted and logged, and the bastion never waits for
// the collector. An event whose write failed is sent again on the next
// connection, so the collector may see it twice (at least once while
// queued). Close sends what is queued within its grace period.
package auditsyslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
)

// queued is an event waiting, numbered in the order it came.
type queued struct {
	seq uint64
	ev  audit.Event
}

// Options configure a Sink.
type Options struct {
	// Address is "tcp://host:port" or "tls://host:port".
	Address string
	// TLS is the client configuration for tls:// (nil: system roots, the
	// host name from Address).
	TLS *tls.Config
	// Queue bounds the events waiting to be sent. Default 10,000.
	Queue int
	// Hostname is the HOSTNAME field. Default os.Hostname().
	Hostname string
	Logger   *slog.Logger
}

// Sink is an audit.Sink that stores each event through next and then
// queues it for the syslog collector.
type Sink struct {
	next    audit.Sink
	o       Options
	network string // "tcp" or "tls"
	addr    string
	log     *slog.Logger

	mu      sync.Mutex
	queue   []queued
	seq     uint64 // of the last event queued
	dropped uint64
	closed  bool
	wake    chan struct{} // a token when the queue got an event or Close was called
	done    chan struct{} // closed when the sender has ended
}

// New starts a Sink's sender goroutine; Close ends it.
func New(next audit.Sink, o Options) (*Sink, error) {
	network, addr, ok := strings.Cut(o.Address, "://")
	if !ok || (network != "tcp" && network != "tls") {
		return nil, fmt.Errorf("syslog address %q: want tcp://host:port or tls://host:port", o.Address)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("syslog address %q: %w", o.Address, err)
	}
	if o.Queue <= 0 {
		o.Queue = 10000
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if network == "tls" && o.TLS == nil {
		host, _, _ := net.SplitHostPort(addr)
		o.TLS = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	s := &Sink{next: next, o: o, network: network, addr: addr, log: o.Logger,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.send() // owner: the Sink; ends at Close
	return s, nil
}

// AppendAudit stores ev through the next sink and, when that worked,
// queues it for syslog. It never waits for the collector.
func (s *Sink) AppendAudit(ctx context.Context, ev audit.Event) error {
	if err := s.next.AppendAudit(ctx, ev); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	if len(s.queue) >= s.o.Queue {
		s.queue = s.queue[1:]
		s.dropped++
		if s.dropped == 1 || s.dropped%1000 == 0 {
			s.log.Error("syslog queue full: audit events dropped from the syslog copy (the index has them)",
				"dropped", s.dropped, "queue", s.o.Queue, "address", s.o.Address)
		}
	}
	s.seq++
	s.queue = append(s.queue, queued{seq: s.seq, ev: ev})
	s.mu.Unlock()
	s.poke()
	return nil
}

// Dropped is how many events the full queue dropped so far.
func (s *Sink) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Pending is how many events wait to be sent.
func (s *Sink) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

func (s *Sink) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close stops taking events and sends what is queued for at most grace.
func (s *Sink) Close(grace time.Duration) {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.poke()
	select {
	case <-s.done:
	case <-time.After(grace):
		s.mu.Lock()
		n := len(s.queue)
		s.queue = nil
		s.mu.Unlock()
		s.log.Warn("syslog: audit events not sent before shutdown (the index has them)", "events", n, "address", s.o.Address)
		<-s.done
	}
}

// send is the sender loop: it connects, writes the queue's head until it
// is empty, and reconnects with backoff after a failure.
func (s *Sink) send() {
	defer close(s.done)
	var conn net.Conn
	var w *bufio.Writer
	backoff := 100 * time.Millisecond
	defer func() {
		if conn != nil {
			_ = conn.Close()
		}
	}()
	for {
		s.mu.Lock()
		empty, closed := len(s.queue) == 0, s.closed
		var batch []queued
		if !empty {
			batch = append(batch, s.queue[:min(len(s.queue), 256)]...)
		}
		s.mu.Unlock()
		if empty {
			if closed {
				return
			}
			<-s.wake
			continue
		}
		if conn == nil {
			c, err := s.dial()
			if err != nil {
				s.log.Warn("syslog: cannot reach the collector; audit events wait", "address", s.o.Address, "err", err, "pending", s.Pending())
				if !s.sleep(backoff) {
					return
				}
				backoff = min(backoff*2, 10*time.Second)
				continue
			}
			conn, w, backoff = c, bufio.NewWriter(c), 100*time.Millisecond
		}
		_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		var err error
		for i := range batch {
			if err = s.write(w, &batch[i].ev); err != nil {
				break
			}
		}
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			s.log.Warn("syslog: write failed; reconnecting", "address", s.o.Address, "err", err)
			_ = conn.Close()
			conn = nil
			continue
		}
		s.mu.Lock()
		// Only the sent events leave (dropping may have taken some already).
		last := batch[len(batch)-1].seq
		for len(s.queue) > 0 && s.queue[0].seq <= last {
			s.queue = s.queue[1:]
		}
		s.mu.Unlock()
	}
}

// sleep waits d, or less when Close is called; false when closing with
// nothing left to do but give up.
func (s *Sink) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.wake:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !(s.closed && len(s.queue) == 0)
}

func (s *Sink) dial() (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if s.network == "tls" {
		return tls.DialWithDialer(&d, "tcp", s.addr, s.o.TLS)
	}
	return d.Dial("tcp", s.addr)
}

// Facility auth (4) for the bastion's security events.
const facility = 4

// write writes ev as one octet-counted RFC 5424 message.
func (s *Sink) write(w *bufio.Writer, ev *audit.Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	msg := FormatMessage(s.o.Hostname, ev, body)
	_, err = w.WriteString(strconv.Itoa(len(msg)) + " " + msg)
	return err
}

// FormatMessage is ev as an RFC 5424 message (without framing): PRI
// auth.notice, or auth.warning for refusals and errors; APP-NAME
// jumpcast; MSGID the event's kind; MSG its JSON.
func FormatMessage(hostname string, ev *audit.Event, body []byte) string {
	sev := 5 // notice
	switch ev.Outcome {
	case audit.OutcomeDenied, audit.OutcomeError, audit.OutcomeFailed, audit.OutcomeLost, audit.OutcomeTerminated:
		sev = 4 // warning
	}
	return fmt.Sprintf("<%d>1 %s %s jumpcast %d %s - %s", facility*8+sev,
		ev.Time.UTC().Format("2006-01-02T15:04:05.000000Z"), headerField(hostname, 255), os.Getpid(),
		headerField(string(ev.Kind), 32), body)
}

// headerField is s as an RFC 5424 header field: printable US-ASCII, no
// spaces, at most max characters, "-" when empty.
func headerField(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= max {
			break
		}
		if r > 32 && r < 127 {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}
