package config

import (
	"strings"
	"testing"
	"time"
)

func TestClusterConfig(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, wantErr string
	}{
		{"off", "", ""},
		{"ok", "store:\n  driver: postgres\ncluster:\n  listen: 127.0.0.1:8443\n  secret_file: /s\n", ""},
		{"bbolt", "cluster:\n  listen: 127.0.0.1:8443\n  secret_file: /s\n", "cluster.listen"},
		{"no_secret", "store:\n  driver: postgres\ncluster:\n  listen: 127.0.0.1:8443\n", "cluster.secret_file"},
		{"bad_listen", "store:\n  driver: postgres\ncluster:\n  listen: nowhere\n  secret_file: /s\n", "cluster.listen"},
		{"bad_advertise", "store:\n  driver: postgres\ncluster:\n  listen: :8443\n  advertise: ftp://x\n  secret_file: /s\n", "cluster.advertise"},
		{"secret_without_listen", "cluster:\n  secret_file: /s\n", "cluster.listen"},
		{"tls_partial", "store:\n  driver: postgres\ncluster:\n  listen: 127.0.0.1:8443\n  secret_file: /s\n  tls_cert: /c\n", "cluster.tls_cert"},
		{"tls_http_advertise", "store:\n  driver: postgres\ncluster:\n  listen: 127.0.0.1:8443\n  advertise: http://10.0.0.1:8443\n  secret_file: /s\n  tls_cert: /c\n  tls_key: /k\n  ca_file: /a\n", "cluster.advertise"},
		{"tls_ok", "store:\n  driver: postgres\ncluster:\n  listen: 127.0.0.1:8443\n  advertise: https://10.0.0.1:8443\n  secret_file: /s\n  tls_cert: /c\n  tls_key: /k\n  ca_file: /a\n", ""},
		{"tiny_heartbeat", "cluster:\n  heartbeat: 1ms\n", "cluster.heartbeat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml), "test.yaml")
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if c.Cluster.Heartbeat != DefaultHeartbeat {
					t.Errorf("heartbeat %v, want %v", c.Cluster.Heartbeat, DefaultHeartbeat)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse: %v, want an error naming %s", err, tc.wantErr)
			}
		})
	}
	if c, err := Parse([]byte("cluster:\n  heartbeat: 500ms\n"), "t"); err != nil || c.Cluster.Heartbeat != 500*time.Millisecond {
		t.Errorf("heartbeat 500ms: %v, %v", c, err)
	}
}
