package main

import (
	"strings"
	"testing"
)

// TestNodesLs: jumpcast serve registers its node (store.node_id) at
// start, and `jumpcast nodes ls` lists it as alive with its version,
// through the running server's admin socket.
func TestNodesLs(t *testing.T) {
	e := startE2EWith(t, func(cfgPath string) {
		addConfigSection(t, cfgPath, "store:\n  node_id: bastion-a\n")
	})
	out, errOut, code := runJumpcast(t, "", "nodes", "ls", "-c", e.cfgPath)
	if code != 0 {
		t.Fatalf("nodes ls: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "bastion-a ") || !strings.HasSuffix(lines[1], "alive") {
		t.Errorf("nodes ls:\n%s", out)
	}
	// The recording it makes names it.
	if _, _, code := e.ssh(t, "", e.login(), "true"); code != 0 {
		t.Fatalf("ssh: exit %d", code)
	}
	if recs := listRecordings(t, e.cfgPath); len(recs) != 1 || recs[0].Node != "bastion-a" {
		t.Errorf("recordings: %+v, want one made by bastion-a", recs)
	}
}
