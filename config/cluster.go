package config

import (
	"fmt"
	"net"
	"net/url"
	"time"
)

// DefaultHeartbeat is how often a node writes its heartbeat into the node
// registry when cluster.heartbeat is not set.
const DefaultHeartbeat = 10 * time.Second

// MissedHeartbeats is how many heartbeats a node may miss before another
// node marks its active recordings interrupted.
const MissedHeartbeats = 3

// Cluster configures what nodes sharing one PostgreSQL index do for each
// other. The zero value (no listen address) is a node that forwards
// nothing and serves no node-to-node calls; it still follows locks made
// on other nodes and marks silent nodes' recordings (store.driver
// postgres).
type Cluster struct {
	// Listen is the address of the internal listener that other nodes
	// call (the live stream of a session, ending a session or a
	// connection). Empty: off. Every call on it carries the shared
	// secret; put it on a private network.
	Listen string `yaml:"listen,omitempty"`
	// Advertise is the URL other nodes reach Listen at
	// ("http://10.0.0.5:8443"), written into the node registry. Empty:
	// http:// and the address Listen is bound to (which must then name a
	// host, not 0.0.0.0).
	Advertise string `yaml:"advertise,omitempty"`
	// SecretFile holds the secret every node of the cluster shares (at
	// least 32 bytes; the file readable by its owner only). Required with
	// Listen.
	SecretFile string `yaml:"secret_file,omitempty"`
	// TLSCert and TLSKey are the internal listener's certificate and key
	// (PEM), signed by CAFile's authority; with them the listener speaks
	// TLS and Advertise defaults to https://. CAFile is the cluster's own
	// certificate authority: a node calls another's https:// address only
	// when that node's certificate chains to it. All three or none.
	TLSCert string `yaml:"tls_cert,omitempty"`
	TLSKey  string `yaml:"tls_key,omitempty"`
	CAFile  string `yaml:"ca_file,omitempty"`
	// Heartbeat is how often the node writes its heartbeat into the
	// registry and looks for nodes that stopped: a node silent for
	// MissedHeartbeats heartbeats has its active recordings marked
	// interrupted within one more. Every node of a cluster must use the
	// same value. Default 10s.
	Heartbeat time.Duration `yaml:"heartbeat,omitempty"`
}

// validateCluster checks the cluster section.
func (c *Config) validateCluster() error {
	cl := c.Cluster
	bad := func(p, format string, a ...any) error {
		return &FieldError{Path: "cluster." + p, Msg: fmt.Sprintf(format, a...)}
	}
	if cl.Heartbeat < 0 || cl.Heartbeat > 0 && cl.Heartbeat < 100*time.Millisecond {
		return bad("heartbeat", "%s: want at least 100ms", cl.Heartbeat)
	}
	if cl.Listen == "" {
		if cl.Advertise != "" || cl.SecretFile != "" || cl.TLSCert != "" || cl.TLSKey != "" || cl.CAFile != "" {
			return bad("listen", "is empty, but other cluster keys are set")
		}
		return nil
	}
	if c.Store.Driver != DriverPostgres {
		return bad("listen", "is only for store.driver %s (nodes share one index)", DriverPostgres)
	}
	if _, _, err := net.SplitHostPort(cl.Listen); err != nil {
		return bad("listen", "%q is not host:port", cl.Listen)
	}
	if cl.SecretFile == "" {
		return bad("secret_file", "is required with cluster.listen")
	}
	if n := btoi(cl.TLSCert != "") + btoi(cl.TLSKey != "") + btoi(cl.CAFile != ""); n != 0 && n != 3 {
		return bad("tls_cert", "cluster.tls_cert, tls_key and ca_file go together")
	}
	if cl.Advertise != "" {
		u, err := url.Parse(cl.Advertise)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return bad("advertise", "%q: want http://HOST:PORT or https://HOST:PORT", cl.Advertise)
		}
		if (u.Scheme == "https") != (cl.TLSCert != "") {
			return bad("advertise", "%q: https:// goes with cluster.tls_cert, http:// without", cl.Advertise)
		}
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
