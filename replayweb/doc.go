// Package replayweb is the auditors' web site: login, the recordings list
// with server-side filters and cursor pagination, the recording page with the
// vendored asciinema-player, the cast download, the live view over
// Server-Sent Events, an admin page for accounts and API tokens, and a JSON
// API for scripts.
//
// It owns the HTTP side only. Recordings, accounts, tokens and audit events
// live in the store and the recordings folder; replayweb reaches them through
// the small interfaces declared in iface.go, which *store.Store,
// *recorder.Dir and *recorder.Hub satisfy. cmd/jumpcast wires them with New
// and runs Handler in an http.Server.
//
// Every page and every recording byte requires a logged-in account (a
// login cookie) or, for /api and /metrics, an API token. Casts are served
// only by handlers that validate the recording id, look the row up in the
// store and open the row's path; there is no static route to recordings.
//
// Roles: auditors and admins see every recording; a user account (an SSH
// user of the bastion, store.RoleUser) sees only recordings whose User is
// its name. Handlers reach recordings only through recordingFor (one
// recording: another person's is the same 404 as an unknown id) and
// listFilter (lists: forced to the account's name), so the scope is
// enforced in two places that every route shares.
package replayweb
