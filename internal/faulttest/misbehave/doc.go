// Package misbehave holds jumpcast's fault tests for peers that misbehave:
// targets that refuse, blackhole, never speak SSH, hang up mid-handshake or
// mid-session, flood the admin or stall their window; admins that vanish
// without EOF, never finish the handshake or open a thousand channels; and a
// recordings disk that fills up or falls below the free-space floor.
//
// Each test runs a real bastion (proxy.Server with the real recorder.Manager,
// a bbolt store in a temporary folder and real in-process or OpenSSH targets)
// on loopback, drives it with a real SSH client, and asserts what the admin
// sees (one line, exit status, within the configured timeout), the audit
// event, the recording, and that the bastion serves the next session.
//
// The tests carry the build tag "faults" and run with `make test-faults`
// (go test -tags faults ./internal/faulttest/...). Without the tag the
// package holds only this comment. They need Linux (a listen backlog of 0
// for the blackhole, /proc for the sshd session processes). The disk tests
// mount a small tmpfs when run as root and otherwise lower RLIMIT_FSIZE;
// JUMPCAST_FAULTS_NO_TMPFS=1 forces the latter where root could mount.
package misbehave
