// Package faulttest holds jumpcast's fault tests: the bastion under load,
// killed, and run for a long time, checked for what a user would notice
// (recordings that are lost, cut wrongly, or differ from what the admin saw;
// goroutines and memory that are never given back).
//
// The tests are behind the build tag "faults" and run with `make
// test-faults` (JUMPCAST_REQUIRE_REAL=1, so a missing sshd, ssh or
// asciinema fails instead of skipping). This file has no tag so the package
// exists for go vet; everything else is in _test.go files:
//
//   - TestKillUnderLoad: 50 interactive sessions (x/crypto clients and real
//     ssh -tt) through a real `jumpcast serve` child in front of a real sshd;
//     SIGKILL; restart. Every recording is indexed interrupted, is valid
//     asciicast for the Go reader and Debian's asciinema, and holds all that
//     its client received up to one second before the kill.
//   - TestByteExactUnderConcurrency: 200 concurrent PTY sessions through an
//     in-process bastion, each streaming a distinct pseudo-random UTF-8 text
//     (ASCII, CJK, emoji, escapes) with window changes; each recording decodes
//     to exactly what its client received, with its "r" events, and the index
//     totals match.
//   - TestNoLeaksAfterManySessions: 1,000 sequential sessions of several
//     kinds; then no goroutine beyond the baseline (goleak) and RSS back near
//     where it started.
//
// Each test reports its figures (sessions, bytes, seconds, RSS) with t.Logf;
// run with -v to see them.
package faulttest
