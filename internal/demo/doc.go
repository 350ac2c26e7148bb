// Package demo runs jumpcast for a newcomer who has no spare server: `make
// demo` starts a throw-away bastion in front of a local demo target and
// prints the ssh command line, the web address and an auditor's password.
//
// Start builds everything in one folder (a temporary one by default):
//
//   - keys: the bastion's host key, the bastion-held identity key it logs in
//     to the target with, a demo client key for the admin, and a
//     known_hosts file that pins the bastion's host key (so the user's own
//     ~/.ssh/known_hosts is never touched);
//   - a demo target: a tiny SSH server in this process (gliderlabs/ssh and a
//     real PTY from creack/pty) on a random loopback port, running the
//     user's $SHELL (or /bin/sh) as the current OS user, with an sftp
//     subsystem; it accepts only the bastion's identity key;
//   - jumpcast.yaml: one user (the current OS user name) with the demo key
//     and, when asked, the user's own ~/.ssh/id_*.pub keys; one target,
//     "demo", pinned by its host key under host_key_policy strict;
//   - an auditor "demo" with a random password, made with `jumpcast auditor
//     add` before the server starts;
//   - `jumpcast serve` as a child process in its own process group, logging
//     to jumpcast.log in the folder.
//
// Everything listens on 127.0.0.1 only. Close stops the server (SIGTERM,
// then SIGKILL after a grace period), stops the target, and removes the
// folder when Start made it.
//
// The package is for the demo program and its tests; the jumpcast binary does
// not import it. Its tests also keep the documentation honest: every config
// key is in docs/operators.md, and every jumpcast command line shown in the
// README and docs/ parses.
package demo
