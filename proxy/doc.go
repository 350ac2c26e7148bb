// Package proxy is the SSH server that admins reach with their own ssh
// client: it authenticates the bastion user by public key (or a user
// certificate), parses the login name (REMOTEUSER@TARGET or
// REMOTEUSER+TARGET), decides policy, dials the target with verified host
// keys and authenticates there, and bridges session channels byte for byte
// while handing the stream to a Recorder.
//
// Layout, by type and then by concern:
//   - server.go: Server's lifecycle, reload, target identity keys;
//     algorithms.go the SSH algorithms on both sides.
//   - conn.go: clientConn, one admin connection, with its life in order
//     (accept, authenticate, decide, its upstream, close); auth.go and
//     limits.go who may connect; login.go the login-name grammar;
//     access.go closing open connections that a reload, a lock or a
//     request to end one no longer allows.
//   - policy.go and hostmatch.go: who may reach what.
//   - upstream.go: upstream, one target connection shared by an admin
//     connection's channels, its agent channels and loss; upstream_dial.go,
//     hostkeys.go and upstream_auth.go connecting to it (verified host
//     keys, the authentication plan, relayed prompts); reuse.go keeping it
//     for the same user's next connection.
//   - bridge.go: bridge, one session channel, with its life in order;
//     bridge_record.go starting its recording, bridge_end.go its copy
//     loops' end, exit status and finalization, bridge_whoami.go the
//     no-target login; requests.go request payloads and the env and
//     control-character rules; termmodes.go the terminal modes sent to
//     the target; rectap.go the copy loops' tap into the recorder;
//     fastrelay.go the fast path beside the copy loops (a keystroke
//     relayed and recorded in the connection's read loop);
//     recording.go the recording seam; end.go ending a live session or a
//     whole connection by recording id.
//   - forward.go: direct-tcpip channels.
//   - web.go: connections from the web site's terminal page (OpenWebConn:
//     the handed key, web_terminal in the decision, via: web).
//   - errors.go: the one-line messages admins see, and sanitizeLine for
//     any text from elsewhere.
//
// Sessions are bridged on raw channels, never through gliderlabs'
// ssh.Session: requests are forwarded with their original payloads, stdout
// and stderr are both copied, and the exit message is sent only after both
// output streams reached EOF.
//
// Every login, decision, session, forward and target failure is an audit
// event built by a constructor of internal/audit and handed to
// Options.Audit, an audit.Sink; proxy does not import the store.
package proxy
