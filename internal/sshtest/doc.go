// Package sshtest holds the SSH test fixtures that several jumpcast packages share.
//
// It owns four kinds of real peers, each started on loopback by a test and stopped by
// t.Cleanup:
//
//   - Target: an in-process SSH server (gliderlabs/ssh for accept, handshake and auth)
//     that owns raw session channels and runs /bin/sh in a real PTY (creack/pty) or
//     with pipes, like a real sshd would: pty-req with terminal modes, env,
//     window-change, shell, exec, the sftp subsystem (pkg/sftp), signal, break, agent
//     forwarding, optional direct-tcpip, and exit-status/exit-signal sent only after
//     all output was read, then EOF, then close.
//   - SSHD: a real OpenSSH /usr/sbin/sshd with its own config, host key and
//     authorized_keys in a temporary folder; the system configuration is untouched.
//   - Agent: a real ssh-agent holding test keys.
//   - ClientConfig and Run: an ssh_config for the real OpenSSH clients (ssh, scp,
//     sftp, rsync) and a bounded way to run them.
//
// Typical use:
//
//	key := sshtest.NewKeyPair(t)
//	tg := sshtest.NewTarget(t, sshtest.TargetOptions{AuthorizedKeys: []gossh.PublicKey{key.Public}})
//	client := tg.Dial(t, "root", gossh.PublicKeys(key.Signer)) // or point the proxy at tg.Addr
//
//	sshd := sshtest.StartSSHD(t, sshtest.SSHDOptions{AuthorizedKeys: []gossh.PublicKey{key.Public}})
//	cfg := sshtest.NewClientConfig(t, key)
//	out, errOut, code, err := sshtest.Run(ctx, nil, "ssh", "-F", cfg.ConfigPath,
//		"-p", strconv.Itoa(sshd.Port), sshd.User()+"@127.0.0.1", "exit 7")
//
// Target behaviour worth knowing:
//   - Every login name is accepted if the key or password is; the child always runs
//     as the test process's user, with its HOME, in HOME.
//   - With a PTY the shell is "/bin/sh -i", exec is "/bin/sh -c CMD"; without a PTY
//     the shell is "/bin/sh" reading stdin. A PTY session ends when every holder of
//     the terminal closed it, so a background job that keeps it open delays the end.
//   - The client's EOF closes the child's stdin without a PTY; with a PTY it is not
//     passed on (the terminal stays open), as with OpenSSH's sshd.
//   - Terminal modes of pty-req are applied (ECHO, ICANON, ISIG, ICRNL, OPOST,
//     ONLCR, control characters and the rest that Linux has); speeds are ignored.
//   - When a client goes away, the session's process group gets SIGHUP, then SIGKILL
//     after a second.
//
// Tests that need an external binary call RequireBinary first: it skips the test
// when the binary is missing, unless JUMPCAST_REQUIRE_REAL=1 (set by CI), in which
// case the test fails.
//
// This package is for tests only; nothing in the jumpcast binary may import it.
package sshtest
