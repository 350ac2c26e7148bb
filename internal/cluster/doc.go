// Package cluster carries the calls one jumpcast node makes to another
// when several nodes share one index: what only the node recording a
// session can do (stream it live, end it or its whole connection) is asked
// of that node over its internal listener (cluster.listen), by the node
// whose web site or admin socket was asked.
//
// Every internal call carries the cluster's shared secret as a bearer
// token (cluster.secret_file), compared in constant time; the internal
// routes refuse anything else. With a cluster certificate (ServerTLS,
// ClientTLS: cluster.tls_cert, tls_key, ca_file) the calls go over TLS
// 1.3, checked against the cluster's own authority, and a client then
// calls https:// addresses only. No new cryptography: crypto/tls and a
// bearer secret.
//
// The package knows nothing of jumpcast's other packages: the routes'
// work (Routes) and where a node is (Resolver) are handed in by the
// wiring in cmd/jumpcast.
package cluster
