package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
)

func TestLoadSecret(t *testing.T) {
	dir := t.TempDir()
	good := strings.Repeat("k", MinSecretLen)
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		wantErr       string
	}{
		{"ok", good + "\n", 0o600, ""},
		{"group_readable", good, 0o640, "readable by group or others"},
		{"short", "short\n", 0o600, "at least 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			got, err := LoadSecret(p)
			if tc.wantErr == "" && (err != nil || string(got) != good) {
				t.Errorf("LoadSecret: %q, %v", got, err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("LoadSecret: %v, want %q", err, tc.wantErr)
			}
		})
	}
	if _, err := LoadSecret(filepath.Join(dir, "absent")); err == nil {
		t.Error("an absent file was accepted")
	}
}

// TestClientAndHandler: a client with the secret ends a session through
// a real HTTP server; one with another secret is refused with a line
// saying so; a node that is not listening, or that never answers, is
// reported as not answering within the timeouts, not waited for.
func TestClientAndHandler(t *testing.T) {
	secret := []byte(strings.Repeat("s", 40))
	ended := make(chan string, 1)
	notRunning := recording.NewID(time.Unix(0, 0))
	h := Handler(secret, Routes{
		Live: func(w http.ResponseWriter, _ *http.Request, id string) { _, _ = io.WriteString(w, "data: "+id+"\n\n") },
		End: func(id, by, why string, whole bool) error {
			if id == notRunning {
				return ErrNotRunning
			}
			ended <- by + "|" + why
			return nil
		},
	}, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resolve := func(_ context.Context, node string) (string, error) {
		if node == "a" {
			return srv.URL, nil
		}
		return "", errors.New("not registered")
	}
	ctx := context.Background()
	id := recording.NewID(time.Now())
	c := NewClient(secret, resolve, nil)
	if err := c.End(ctx, "a", id, "auditor bob", "freeze", false); err != nil {
		t.Fatalf("End: %v", err)
	}
	if got := <-ended; got != "auditor bob|freeze" {
		t.Errorf("the route got %q", got)
	}
	if err := c.End(ctx, "a", notRunning, "x", "", true); !errors.Is(err, ErrNotRunning) {
		t.Errorf("End of a session not running: %v", err)
	}
	rc, err := c.Live(ctx, "a", id)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	_ = rc.Close()
	if string(body) != "data: "+id+"\n\n" {
		t.Errorf("Live: %q", body)
	}

	var ne *NodeError
	if err := NewClient([]byte(strings.Repeat("x", 40)), resolve, nil).End(ctx, "a", id, "x", "", false); !errors.As(err, &ne) || !strings.Contains(ne.Msg, "cluster secrets differ") {
		t.Errorf("End with another secret: %v", err)
	}
	if err := c.End(ctx, "b", id, "x", "", false); !errors.As(err, &ne) || ne.Msg != "the node recording this session, b, does not answer" {
		t.Errorf("End on an unregistered node: %v", err)
	}

	// A cluster that uses TLS sends the secret to no http:// address.
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS13}
	if err := NewClient(secret, resolve, tlsConf).End(ctx, "a", id, "x", "", false); !errors.As(err, &ne) || !strings.Contains(ne.Err.Error(), "want https://") {
		t.Errorf("End to an http:// node from a TLS cluster: %v", err)
	}
	select {
	case got := <-ended:
		t.Errorf("the route ran (%q) for a client that should not have called", got)
	default:
	}

	// A closed port, and a listener that accepts and never answers.
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedURL := "http://" + closed.Addr().String()
	_ = closed.Close()
	mute, _ := net.Listen("tcp", "127.0.0.1:0")
	defer func() { _ = mute.Close() }()
	go func() { // owner: this test; ends when mute is closed
		for {
			conn, err := mute.Accept()
			if err != nil {
				return
			}
			defer func() { _ = conn.Close() }()
		}
	}()
	for name, u := range map[string]string{"closed": closedURL, "mute": "http://" + mute.Addr().String()} {
		c := NewClient(secret, func(context.Context, string) (string, error) { return u, nil }, nil)
		start := time.Now()
		_, err := c.Live(ctx, "dead", id)
		if !errors.As(err, &ne) || ne.Msg != "the node recording this session, dead, does not answer" {
			t.Errorf("%s: Live: %v", name, err)
		}
		if d := time.Since(start); d > headerTimeout+2*time.Second {
			t.Errorf("%s: Live took %v", name, d)
		}
	}
}
