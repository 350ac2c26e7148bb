// Package cluster carries the calls one jumpcast node makes to another
// when several nodes share one index: what only the node recording a
// session can do (stream it live, end it or its whole connection) is asked
// of that node over its internal listener (cluster.listen), by the node
// whose web site or admin socket was asked.
//
// Every internal call carries the cluster's shared secret as a bearer
// token (cluster.secret_file), compared in constant time; the internal
// routes refuse anything else. There is no new cryptography: put the
// listener on a private network, or behind TLS (an https advertise URL).
//
// The package knows nothing of jumpcast's other packages: the routes'
// work (Routes) and where a node is (Resolver) are handed in by the
// wiring in cmd/jumpcast.
package cluster
