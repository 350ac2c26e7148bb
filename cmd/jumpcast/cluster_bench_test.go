package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// BenchmarkSessionSetup: one admin command from a fresh ssh process (a
// new connection: key exchange, login, policy, the target's connection
// and login, a recording opened and closed), `ssh … true`, through
//   - single: one node on the embedded index (bbolt), reached directly;
//   - cluster: three nodes on one PostgreSQL index behind a real HAProxy
//     (round-robin, PROXY v2).
//
// Issue 17's goal: cluster ≤ 1.1 × single, compared in one run (the
// ratio; absolute times depend on the machine's load):
//
//	go test -run XXX -bench BenchmarkSessionSetup -benchtime 30x ./cmd/jumpcast/
func BenchmarkSessionSetup(b *testing.B) {
	b.Run("single", func(b *testing.B) {
		e := startE2E(b)
		benchSetup(b, e, e.srv.SSHPort)
	})
	b.Run("cluster", func(b *testing.B) {
		tc, port := startBalancedCluster(b, 0)
		benchSetup(b, tc.nodes["node-a"], port)
	})
}

func benchSetup(b *testing.B, e *e2e, port string) {
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, errOut, code, err := sshtest.Run(ctx, nil, "ssh", "-F", e.client.ConfigPath, "-p", port, e.login(), "echo ok")
		cancel()
		if err != nil || code != 0 || !strings.Contains(string(out), "ok") {
			b.Fatalf("ssh: exit %d %v %q %q", code, err, out, errOut)
		}
	}
}
