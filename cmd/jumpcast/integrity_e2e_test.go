package main

// Issue 14's promises, tried as an admin who wants to act unrecorded or to
// keep access after it was cut, with stock clients against a default
// configuration of the real binary in front of a real sshd. Each test fails
// on a bastion that passes the client's terminal modes through, records no
// input without a PTY, parses only the "sftp" subsystem, leaks a recording
// per refused start, or keeps a revoked connection open.

import (
	"net/http"
	"strings"
	"testing"
)

// TestIntegrityPasswordChangeEndsWebLogins: setting a new password with the
// CLI ends the web logins made with the old one.
func TestIntegrityPasswordChangeEndsWebLogins(t *testing.T) {
	e := startE2E(t)
	const oldPW, newPW = "old passphrase 1234", "new passphrase 5678"
	if _, errOut, code := runJumpcast(t, oldPW+"\n", "auditor", "add", "carol", "-c", e.cfgPath); code != 0 {
		t.Fatalf("auditor add: %s", errOut)
	}
	web := webLogin(t, e.srv.WebAddr, "carol", oldPW)
	if code := webStatus(t, web, "http://"+e.srv.WebAddr+"/api/recordings"); code != http.StatusOK {
		t.Fatalf("logged in, /api/recordings: %d", code)
	}
	// The server holds the database: the CLI writes through the admin
	// socket, which cannot reach the site's logins.
	if out, errOut, code := runJumpcast(t, newPW+"\n", "auditor", "add", "carol", "-c", e.cfgPath); code != 0 || !strings.Contains(out, "account carol saved") {
		t.Fatalf("auditor add (new password): exit %d %q %s", code, out, errOut)
	}
	if code := webStatus(t, web, "http://"+e.srv.WebAddr+"/api/recordings"); code != http.StatusUnauthorized {
		t.Errorf("the old password's web login after a password change: /api/recordings %d, want 401", code)
	}
	if code := webStatus(t, web, "http://"+e.srv.WebAddr+"/"); code != http.StatusFound {
		t.Errorf("the old password's web login after a password change: / %d, want 302 to /login", code)
	}
	if _, code := postWebLogin(t, e.srv.WebAddr, "carol", oldPW); code != http.StatusUnauthorized {
		t.Errorf("the old password signs in: %d, want 401", code)
	}
	again := webLogin(t, e.srv.WebAddr, "carol", newPW)
	if code := webStatus(t, again, "http://"+e.srv.WebAddr+"/api/recordings"); code != http.StatusOK {
		t.Errorf("logged in with the new password, /api/recordings: %d", code)
	}
}
