package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/auditsyslog/syslogtest"
)

// clusterCA writes a throw-away cluster authority and a certificate for
// 127.0.0.1 signed by it, and returns the cluster keys that use them.
func clusterCA(t *testing.T) string {
	t.Helper()
	f, _ := syslogtest.MakeTLSFiles(t)
	return fmt.Sprintf("  tls_cert: %q\n  tls_key: %q\n  ca_file: %q\n", f.Cert, f.Key, f.CA)
}

// TestClusterOverTLS: with a cluster certificate, nodes advertise https://,
// node C ends a session of node B's over TLS, and the internal listener
// does not speak plain HTTP.
func TestClusterOverTLS(t *testing.T) {
	tc := startClusterWith(t, 0, clusterCA(t), "node-b", "node-c")
	b, c := tc.nodes["node-b"], tc.nodes["node-c"]
	base := tc.internalURL(t, "node-b")
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("node B advertises %q, want https://", base)
	}
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + strings.TrimPrefix(base, "https://") + "/cluster/v1/sessions/x/live")
	if err == nil {
		_ = res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS listener: %d, want 400", res.StatusCode)
		}
	}
	endFromCLI(t, b, c, "tls works")
}
