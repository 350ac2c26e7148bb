package replayweb

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recindex"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// newLiveEnv is an env whose site has a live Hub, fed by a real recorder
// Manager writing to the env's recordings folder and store.
func newLiveEnv(t *testing.T) (*env, *recorder.Manager) {
	hub := recorder.NewHub()
	e := newEnv(t, func(o *Options) { o.Live = hub })
	m := recorder.NewManager(recorder.ManagerOptions{Dir: e.casts, Index: recindex.New(e.store), Hub: hub, FlushInterval: 50 * time.Millisecond})
	return e, m
}

func startSession(t *testing.T, m *recorder.Manager, user, target string) *recorder.Session {
	t.Helper()
	s, err := m.Start(t.Context(), recorder.SessionInfo{
		User: user, RemoteUser: "root", TargetAlias: target, TargetAddr: "10.0.0.7:22", ClientAddr: "192.0.2.44:51000",
		Kind: recorder.KindShell, PTY: true, Term: "xterm-256color", Width: 100, Height: 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sseReader reads one Server-Sent Events stream.
type sseReader struct {
	t  *testing.T
	sc *bufio.Scanner
}

// next returns the next event's name ("" for message) and data.
func (r *sseReader) next() (name, data string) {
	r.t.Helper()
	for r.sc.Scan() {
		line := r.sc.Text()
		switch {
		case line == "":
			if name != "" || data != "" {
				return name, data
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data += strings.TrimPrefix(line, "data: ")
		}
	}
	r.t.Fatalf("stream ended before an event: %v (so far %q %q)", r.sc.Err(), name, data)
	return "", ""
}

func (r *sseReader) event() asciicast.Event {
	r.t.Helper()
	name, data := r.next()
	var ev asciicast.Event
	if name != "" || json.Unmarshal([]byte(data), &ev) != nil {
		r.t.Fatalf("want an event, got %q %q", name, data)
	}
	return ev
}

// openLive opens id's live event stream as c on the server at base,
// bounded by 10 s; the body is closed when the test ends.
func (c *client) openLive(t *testing.T, base, id string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/recordings/"+id+"/live", nil)
	req.AddCookie(c.jar[webLoginCookie])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = res.Body.Close() })
	return res
}

func TestLiveServerSentEvents(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	e, m := newLiveEnv(t)
	sess := startSession(t, m, "alice", "db1")
	if err := sess.Output([]byte("before-watch\r\n")); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(e.srv.Handler())
	defer ts.Close()
	c := e.client()
	c.login("alice", testPassword)

	// The list marks it live; the page plays it over the live stream.
	_, body := c.get("/")
	if !strings.Contains(body, `<span class="badge b-active">live</span>`) {
		t.Error("the list does not mark the active session")
	}
	_, body = c.get("/recordings/" + sess.ID())
	if !strings.Contains(body, `data-live="/recordings/`+sess.ID()+`/live"`) {
		t.Fatal("the page of an active session does not use the live stream")
	}

	res := c.openLive(t, ts.URL, sess.ID())
	defer res.Body.Close() // before goleak's check, which runs ahead of cleanups
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("live: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	r := &sseReader{t: t, sc: bufio.NewScanner(res.Body)}
	_, data := r.next()
	var hdr asciicast.Header
	if err := json.Unmarshal([]byte(data), &hdr); err != nil || hdr.Version != 2 || hdr.Width != 100 || hdr.Height != 30 {
		t.Fatalf("first event is not the v2 header: %q", data)
	}
	if ev := r.event(); ev.Code != "o" || ev.Data != "before-watch\r\n" {
		t.Fatalf("backlog: %+v", ev)
	}
	if err := sess.Output([]byte("while-watching\r\n")); err != nil {
		t.Fatal(err)
	}
	if ev := r.event(); ev.Code != "o" || ev.Data != "while-watching\r\n" {
		t.Fatalf("live event: %+v", ev)
	}
	if err := sess.Close(t.Context(), asciicast.Exit{Status: 0, HasStatus: true}); err != nil {
		t.Fatal(err)
	}
	if ev := r.event(); ev.Code != "x" {
		t.Fatalf("want the exit event, got %+v", ev)
	}
	if name, _ := r.next(); name != "done" {
		t.Fatalf("want the done event, got %q", name)
	}
	if ev := auditOf(t, e, sess.ID()); len(ev) != 1 || ev[0] != auditLine(audit.KindPlayback, "alice") {
		t.Errorf("audit: %v", ev)
	}
	// After the end the page plays the file, and the stream says done at once.
	_, body = c.get("/recordings/" + sess.ID())
	if strings.Contains(body, "data-live=") || !strings.Contains(body, "finished") {
		t.Error("the page of an ended session still uses the live stream")
	}
	if _, body := c.get("/recordings/" + sess.ID() + "/live"); body != endOfStream {
		t.Errorf("live stream of an ended session: %q", body)
	}
}

func TestLiveViewerLeaves(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	e, m := newLiveEnv(t)
	sess := startSession(t, m, "alice", "db1")
	defer sess.Close(context.Background(), asciicast.Exit{})
	ts := httptest.NewServer(e.srv.Handler())
	defer ts.Close()
	c := e.client()
	c.login("alice", testPassword)
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/recordings/"+sess.ID()+"/live", nil)
	req.AddCookie(c.jar[webLoginCookie])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := &sseReader{t: t, sc: bufio.NewScanner(res.Body)}
	r.next() // header
	cancel() // the auditor closes the tab
	res.Body.Close()
	// The session goes on; the handler and its subscription are gone
	// (goleak checks) and output is not blocked.
	for range 100 {
		if err := sess.Output([]byte("more\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}
