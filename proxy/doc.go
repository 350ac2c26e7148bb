// Package proxy is the SSH server that admins reach with their own ssh
// client: it authenticates the bastion user by public key (or a user
// certificate), parses the login name (REMOTEUSER@TARGET or
// REMOTEUSER+TARGET), decides policy, dials the target with verified host
// keys and authenticates there, and bridges session channels byte for byte
// while handing the stream to a Recorder.
//
// Layout: server.go (lifecycle, reload, target identity keys),
// conn.go (one admin connection: handshake, algorithms, close), auth.go
// and limits.go (who may connect), login.go (the login-name grammar),
// policy.go and hostmatch.go (who may reach what, raw host patterns),
// upstream_dial.go, hostkeys.go and upstream_auth.go (the target side),
// target.go and reuse.go (one target connection per admin connection, kept
// for the same user's next one when it logged in with bastion-held keys;
// agent forwarding; a target lost mid-session), bridge.go (a session
// channel's lifetime), requests.go (request payloads and the env rules),
// session_io.go (forwarding requests, starting the session and its
// recording), rectap.go (the copy loops' tap into the recorder),
// recording.go (the recording seam), end.go (ending a live session by its
// recording id), forward.go (direct-tcpip), errors.go (the one-line
// messages admins see, and sanitizeLine for any text from elsewhere),
// whoami.go (the no-target login), access.go (closing open connections
// that a reload, a lock or a request to end one no longer allows).
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
