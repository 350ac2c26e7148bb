package sshtest

import (
	"os"
	"os/exec"
	"testing"
)

// RequireRealEnv is the environment variable that turns a missing binary from a
// skipped test into a failed one. CI sets it to "1".
const RequireRealEnv = "JUMPCAST_REQUIRE_REAL"

// RequireBinary skips t when one of paths is not an executable file, or fails it
// when the environment has JUMPCAST_REQUIRE_REAL=1. A path without a slash is looked
// up in PATH.
func RequireBinary(t testing.TB, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := executable(p); err != nil {
			if os.Getenv(RequireRealEnv) == "1" {
				t.Fatalf("required binary %s: %v (%s=1)", p, err, RequireRealEnv)
			}
			t.Skipf("binary %s not available: %v", p, err)
		}
	}
}

// executable reports why path cannot be run, or nil.
func executable(path string) error {
	_, err := exec.LookPath(path)
	return err
}

// Unavailable skips t because a real server the test drives could not be
// had (err says why), or fails it under JUMPCAST_REQUIRE_REAL=1.
func Unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv(RequireRealEnv) == "1" {
		t.Fatalf("%v (%s=1)", err, RequireRealEnv)
	}
	t.Skip(err)
}
