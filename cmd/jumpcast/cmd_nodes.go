package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/store"
)

func newNodesCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "nodes",
		Short: "The nodes that share this index",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "ls",
		Short: "List the node registry: id, version, start and last heartbeat",
		Long: `Lists every node that registered in the index (store.node_id; the host name
by default), the version it runs, when it last started and when it last said
it was alive (every cluster.heartbeat, 10 s by default), its internal
address (cluster.advertise) and the SHA256 fingerprint of its first SSH host
key (nodes behind one balancer must all show the same). A node that missed 3 heartbeats (30 s by
default) is marked silent; other nodes then mark its recordings interrupted. With
bbolt there is one node; with PostgreSQL every node sharing the database.`,
		Example: "  jumpcast nodes ls",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			// Silent: config.MissedHeartbeats heartbeats missed, when other
			// nodes mark its recordings interrupted.
			silentAfter := config.MissedHeartbeats * cfg.Cluster.Heartbeat
			return withConfigBackend(cfg, func(b backend) error {
				ns, err := b.ListNodes(cmd.Context())
				if err != nil {
					return err
				}
				return printNodes(cmd.OutOrStdout(), ns, time.Now(), silentAfter)
			})
		},
	})
	return cmd
}

func printNodes(w io.Writer, ns []store.Node, now time.Time, silentAfter time.Duration) error {
	if len(ns) == 0 {
		_, err := fmt.Fprintln(w, "no node has registered yet (jumpcast serve registers at start)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tINTERNAL ADDRESS\tVERSION\tSTARTED (UTC)\tLAST HEARTBEAT\tHOST KEY\tSTATE")
	for _, n := range ns {
		ago := now.Sub(n.Heartbeat).Round(time.Second)
		state := "alive"
		if ago >= silentAfter {
			state = "silent"
		}
		addr := n.Addr
		if addr == "" {
			addr = "-"
		}
		key := "-"
		if len(n.HostKeys) > 0 {
			key = n.HostKeys[0]
			if len(n.HostKeys) > 1 {
				key += fmt.Sprintf(" (+%d)", len(n.HostKeys)-1)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s ago\t%s\t%s\n", n.ID, addr, n.Version, n.Started.UTC().Format("2006-01-02 15:04:05"), ago, key, state)
	}
	return tw.Flush()
}
