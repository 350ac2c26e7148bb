// Package sshtest holds the SSH test fixtures that several jumpcast packages share.
//
// It owns four kinds of real peers, each started on loopback by a test and stopped by
// t.Cleanup:
//
//   - Target: an in-process SSH server (gliderlabs/ssh for accept, handshake and auth)
//     that owns raw session channels and runs /bin/sh in a real PTY (creack/pty) or
//     with pipes, like a real sshd would: pty-req with terminal modes, env,
//     window-change, shell, exec, the sftp subsystem (pkg/sftp), signal, agent
//     forwarding, and exit-status/exit-signal sent only after all output was read.
//   - SSHD: a real OpenSSH /usr/sbin/sshd with its own config, host key and
//     authorized_keys in a temporary folder; the system configuration is untouched.
//   - Agent: a real ssh-agent holding test keys.
//   - ClientConfig and Run: an ssh_config for the real OpenSSH clients (ssh, scp,
//     sftp, rsync) and a bounded way to run them.
//
// Tests that need an external binary call RequireBinary first: it skips the test
// when the binary is missing, unless JUMPCAST_REQUIRE_REAL=1 (set by CI), in which
// case the test fails.
//
// This package is for tests only; nothing in the jumpcast binary may import it.
package sshtest
