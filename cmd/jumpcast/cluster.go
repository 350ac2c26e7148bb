package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jumpcast/jumpcast/internal/cluster"
	"github.com/jumpcast/jumpcast/proxy"
	"github.com/jumpcast/jumpcast/replayweb"
	"github.com/jumpcast/jumpcast/store"
)

// clusterNode is what a node of a shared index adds to a program when
// cluster.listen is set: the internal listener other nodes call, and the
// client it calls them with. Its zero value (no cluster) routes every
// call to this node.
type clusterNode struct {
	secret    []byte
	serverTLS *tls.Config // the listener's certificate (cluster.tls_cert); nil: plain HTTP
	clientTLS *tls.Config // the cluster's authority (cluster.ca_file); nil: plain HTTP
	ln        net.Listener
	srv       *http.Server
	client    *cluster.Client // nil without cluster.listen
	self      string
	st        store.Index
}

// listenCluster reads the secret and opens the internal listener (before
// the bastion, whose registry row names its address), and returns the
// URL other nodes reach it at.
func (p *program) listenCluster() (advertise string, err error) {
	cc := p.cfg.Cluster
	if cc.Listen == "" {
		return "", nil
	}
	if p.cluster.secret, err = cluster.LoadSecret(cc.SecretFile); err != nil {
		return "", err
	}
	scheme := "http://"
	if cc.TLSCert != "" {
		if p.cluster.serverTLS, err = cluster.ServerTLS(cc.TLSCert, cc.TLSKey); err != nil {
			return "", err
		}
		if p.cluster.clientTLS, err = cluster.ClientTLS(cc.CAFile); err != nil {
			return "", err
		}
		scheme = "https://"
	}
	if p.cluster.ln, err = net.Listen("tcp", cc.Listen); err != nil {
		return "", fmt.Errorf("cluster listener: %w", err)
	}
	if cc.Advertise != "" {
		return cc.Advertise, nil
	}
	addr := p.cluster.ln.Addr().(*net.TCPAddr)
	if addr.IP.IsUnspecified() {
		return "", errors.New("cluster.advertise: required when cluster.listen names no host (other nodes need an address)")
	}
	return scheme + addr.String(), nil
}

// startCluster builds the internal routes and the client once the bastion
// is up.
func (p *program) startCluster() {
	p.cluster.self, p.cluster.st = p.cfg.Node(), p.bastion.Store
	if p.cluster.ln == nil {
		return
	}
	p.cluster.client = cluster.NewClient(p.cluster.secret, p.resolveNode, p.cluster.clientTLS)
	hub := p.bastion.Hub
	routes := cluster.Routes{
		Live: func(w http.ResponseWriter, r *http.Request, id string) {
			var live replayweb.LiveSource // nil: nothing is live here
			if hub != nil {
				live = hub
			}
			replayweb.ServeLive(w, r, live, id, p.log)
		},
		End: func(id, by, why string, whole bool) error {
			end := p.bastion.Proxy.EndSession
			if whole {
				end = p.bastion.Proxy.EndConnection
			}
			err := end(id, by, why)
			if errors.Is(err, proxy.ErrNoLiveSession) {
				return cluster.ErrNotRunning
			}
			return err
		},
	}
	if p.cluster.serverTLS != nil {
		p.cluster.ln = tls.NewListener(p.cluster.ln, p.cluster.serverTLS)
	}
	p.cluster.srv = &http.Server{
		Handler:           cluster.Handler(p.cluster.secret, routes, p.log),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
}

// resolveNode is node's internal URL from the registry.
func (p *program) resolveNode(ctx context.Context, node string) (string, error) {
	nodes, err := p.bastion.Store.ListNodes(ctx)
	if err != nil {
		return "", err
	}
	for _, n := range nodes {
		if n.ID == node {
			if n.Addr == "" {
				return "", fmt.Errorf("node %s advertises no internal address (cluster.listen)", node)
			}
			return n.Addr, nil
		}
	}
	return "", fmt.Errorf("node %s is not in the registry", node)
}

// ender ends running session id (whole: its admin connection) for by, on
// this node or, when another node records it, on that node. The web site
// and the admin socket (jumpcast recordings end) call it.
func (p *program) ender(whole bool) func(id, by, why string) error {
	local := p.bastion.Proxy.EndSession
	if whole {
		local = p.bastion.Proxy.EndConnection
	}
	return func(id, by, why string) error {
		if p.cluster.client == nil {
			return local(id, by, why)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		rec, err := p.cluster.st.GetRecording(ctx, id)
		if err != nil || rec.Node == "" || rec.Node == p.cluster.self {
			return local(id, by, why)
		}
		return p.cluster.client.End(ctx, rec.Node, id, by, why, whole)
	}
}

// addr is the internal listener's address, for the start line; "off"
// without a cluster.
func (c *clusterNode) addr() string {
	if c.ln == nil {
		return "off"
	}
	return c.ln.Addr().String()
}

// remoteLive is the web site's way to other nodes' live sessions: nil
// (not a typed nil) without a cluster.
func remoteLive(c *cluster.Client) replayweb.RemoteLive {
	if c == nil {
		return nil
	}
	return c
}
