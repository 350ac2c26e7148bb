package bastion

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/store"
)

// lockPollEvery is how often a node of a shared index reads the access
// locks, so that a lock made on another node closes the connections it
// names here within about a second.
const lockPollEvery = time.Second

// register puts this node in the index's node registry (with its internal
// address, Options.Advertise) and makes its keeper, which startKeeper
// runs until Close: every cluster.heartbeat it writes the heartbeat and marks the
// recordings of nodes silent for config.MissedHeartbeats heartbeats
// interrupted; every lockPollEvery, with a shared index, it applies the
// locks the index holds when they changed. A failed call is logged; the
// next tick tries again (the index may be restarting).
func (b *Bastion) register(cfg *config.Config, o Options, log *slog.Logger) error {
	k := &keeper{b: b, self: cfg.Node(), every: cfg.Cluster.Heartbeat, log: log,
		shared: cfg.Store.Driver == config.DriverPostgres}
	pubs := make([]gossh.PublicKey, 0, len(b.HostKeys))
	for _, s := range b.HostKeys {
		pubs = append(pubs, s.PublicKey())
	}
	fps := HostKeyFingerprints(pubs)
	if err := b.Store.RegisterNode(context.Background(), store.Node{ID: k.self, Addr: o.Advertise, Version: o.Version, HostKeys: fps}); err != nil {
		return fmt.Errorf("register node %s: %w", k.self, err)
	}
	if nodes, err := b.Store.ListNodes(context.Background()); err == nil {
		for _, n := range OtherHostKeys(k.self, fps, nodes) {
			log.Warn("node presents other SSH host keys than this one: admins behind one balancer will be told the host key changed; give every node the same ssh.host_keys",
				"node", n.ID, "its_keys", strings.Join(n.HostKeys, ","), "ours", strings.Join(fps, ","))
		}
	}
	b.keeper = k
	return nil
}

// startKeeper starts the keeper registered by register; New calls it last,
// once Proxy and Audit are set.
func (b *Bastion) startKeeper() {
	b.stopHB, b.hbDone = make(chan struct{}), make(chan struct{})
	go b.keeper.run(b.stopHB, b.hbDone) // owner: the Bastion; ends at Close
}

// keeper is the one goroutine that keeps a node in its cluster.
type keeper struct {
	b      *Bastion
	self   string
	every  time.Duration // cluster.heartbeat
	shared bool          // the index is shared (PostgreSQL): poll locks, sweep silent nodes
	log    *slog.Logger
	locks  []string // ids of the locks last applied, sorted; nil before the first poll
}

func (k *keeper) run(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	hb := time.NewTicker(k.every)
	defer hb.Stop()
	var poll <-chan time.Time
	if k.shared {
		t := time.NewTicker(lockPollEvery)
		defer t.Stop()
		poll = t.C
	}
	for {
		select {
		case <-stop:
			return
		case <-hb.C:
			k.heartbeat()
		case <-poll:
			k.pollLocks()
		}
	}
}

func (k *keeper) heartbeat() {
	ctx, cancel := context.WithTimeout(context.Background(), k.every)
	defer cancel()
	if err := k.b.Store.NodeHeartbeat(ctx, k.self); err != nil {
		k.log.Warn("node heartbeat failed", "node", k.self, "err", err)
		return // a node that cannot reach the index judges no one
	}
	if k.shared {
		k.sweep(ctx)
	}
}

// sweep marks the active recordings of every other node whose heartbeat
// is config.MissedHeartbeats periods old interrupted, with one audit event
// each, and with storage s3 has them sealed from their stream parts
// (spool.sealLost). The index decides who is silent (its clock) and makes sure one
// node only marks a given row.
func (k *keeper) sweep(ctx context.Context) {
	nodes, err := k.b.Store.ListNodes(ctx)
	if err != nil {
		k.log.Warn("list nodes", "err", err)
		return
	}
	silentFor := config.MissedHeartbeats * k.every
	for _, n := range nodes {
		if n.ID == k.self {
			continue
		}
		rows, err := k.b.Store.InterruptSilentNode(ctx, n.ID, silentFor)
		if err != nil {
			k.log.Warn("interrupt recordings of a silent node", "node", n.ID, "err", err)
			continue
		}
		for _, r := range rows {
			k.log.Warn("recording interrupted: its node stopped answering", "session_id", r.ID, "node", n.ID,
				"user", r.User, "target", r.TargetAlias, "heartbeat", r.End)
			who := audit.Who{User: r.User, RemoteAddr: r.ClientAddr, Target: r.TargetAlias, RemoteUser: r.RemoteUser}
			if err := k.b.Audit.AppendAudit(ctx, audit.NodeSilent(who, r.ID, n.ID, "node "+k.self, r.End)); err != nil {
				k.log.Error("audit event not stored", "session_id", r.ID, "err", err)
			}
			if k.b.spool != nil {
				k.b.spool.sealLost(r) // this node alone marked r: it alone seals it
			}
		}
	}
}

// pollLocks applies the index's locks to the proxy when their set changed
// since the last poll (a lock made or lifted on another node).
func (k *keeper) pollLocks() {
	ctx, cancel := context.WithTimeout(context.Background(), lockPollEvery)
	defer cancel()
	all, err := k.b.Store.ListLocks(ctx)
	if err != nil {
		k.log.Debug("poll locks", "err", err)
		return
	}
	ids := make([]string, 0, len(all))
	for _, l := range all {
		ids = append(ids, l.ID)
	}
	slices.Sort(ids)
	if k.locks != nil && slices.Equal(ids, k.locks) {
		return
	}
	k.locks = ids
	k.b.Proxy.ApplyLocks(all)
}
