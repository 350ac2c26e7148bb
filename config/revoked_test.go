package config

import (
	"errors"
	"strings"
	"testing"
)

// TestRevokedKeys: ssh.revoked_keys takes authorized_keys lines, and a line
// that is not a public key is refused with its key path and line.
func TestRevokedKeys(t *testing.T) {
	c, err := Parse([]byte("ssh:\n  revoked_keys:\n    - \""+aliceKey+"\"\n"), "revoked.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SSH.RevokedKeys) != 1 || c.SSH.RevokedKeys[0] != aliceKey {
		t.Errorf("revoked_keys = %q", c.SSH.RevokedKeys)
	}
	_, err = Parse([]byte("ssh:\n  revoked_keys:\n    - \""+aliceKey+"\"\n    - \"ssh-ed25519 AAAA-not-base64\"\n"), "revoked.yaml")
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "ssh.revoked_keys.1" || !strings.Contains(err.Error(), "not a public key") {
		t.Fatalf("bad revoked key: %v", err)
	}
	if !strings.Contains(err.Error(), "revoked.yaml: line 4") {
		t.Errorf("error %q does not name the line", err)
	}
}
