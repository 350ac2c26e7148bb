package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"text/tabwriter"

	"github.com/spf13/cobra"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/jumpcast/jumpcast/store"
)

func newHostKeysCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hostkeys",
		Short: "Target host keys pinned on first use (upstream.host_key_policy: tofu)",
		Long: `Under the tofu policy the first key a target address presents is pinned in
the index, and a later different key is refused ("host key changed"). With
PostgreSQL every node shares the pins, so they all trust the same key.
Targets with host_keys in the config, and hosts in upstream.known_hosts, are
checked against those instead and never pinned.`,
	}
	var asKnownHosts bool
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List pinned host keys: address, key type, fingerprint, when pinned",
		Long: `Lists the pins. With --known-hosts, prints them as OpenSSH known_hosts lines
instead: to move to host_key_policy: strict keeping what was pinned, save that
output to a file and list it in upstream.known_hosts.`,
		Example: "  jumpcast hostkeys ls\n  jumpcast hostkeys ls --known-hosts > /etc/jumpcast/pinned_hosts",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withBackend(g, func(b backend) error {
				ps, err := b.HostKeyPins(cmd.Context())
				if err != nil {
					return err
				}
				if asKnownHosts {
					return printKnownHosts(cmd.OutOrStdout(), ps)
				}
				return printPins(cmd.OutOrStdout(), ps)
			})
		},
	}
	ls.Flags().BoolVar(&asKnownHosts, "known-hosts", false, "print OpenSSH known_hosts lines")
	cmd.AddCommand(ls)
	cmd.AddCommand(&cobra.Command{
		Use:   "forget ADDRESS",
		Short: "Remove an address's pin, so that its next key is pinned (after a target was re-keyed)",
		Long: `Removes the pin of ADDRESS (host:port as "jumpcast hostkeys ls" shows it; a
host alone means port 22). The next connection to it pins the key it then
presents: check that key's fingerprint with the target's owner. An audit event
records who forgot which key.`,
		Example: "  jumpcast hostkeys forget db1.internal:22",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr := args[0]
			if _, _, err := net.SplitHostPort(addr); err != nil {
				addr = net.JoinHostPort(addr, "22")
			}
			return withBackend(g, func(b backend) error {
				p, err := b.ForgetHostKeyPin(cmd.Context(), addr)
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no host key is pinned for %s (see jumpcast hostkeys ls)", addr)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "forgot the %s key %s of %s; the next connection pins the key it presents\n",
					p.Type, pinFingerprint(p), p.Addr)
				return nil
			})
		},
	})
	return cmd
}

func printPins(w io.Writer, ps []store.HostKeyPin) error {
	if len(ps) == 0 {
		_, err := fmt.Fprintln(w, "no host key is pinned")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tTYPE\tFINGERPRINT\tPINNED (UTC)")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Addr, p.Type, pinFingerprint(p), p.Created.UTC().Format("2006-01-02 15:04:05"))
	}
	return tw.Flush()
}

func printKnownHosts(w io.Writer, ps []store.HostKeyPin) error {
	for _, p := range ps {
		k, err := gossh.ParsePublicKey(p.Key)
		if err != nil {
			return fmt.Errorf("host key pin of %s: %w", p.Addr, err)
		}
		if _, err := fmt.Fprintln(w, knownhosts.Line([]string{p.Addr}, k)); err != nil {
			return err
		}
	}
	return nil
}

// pinFingerprint is the pin's SHA256 fingerprint, or "(unreadable key)".
func pinFingerprint(p store.HostKeyPin) string {
	k, err := gossh.ParsePublicKey(p.Key)
	if err != nil {
		return "(unreadable key)"
	}
	return gossh.FingerprintSHA256(k)
}
