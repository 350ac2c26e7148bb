package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/store"
)

func newTokenCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "token",
		Short:   "Manage API tokens for the JSON API",
		Example: "  jumpcast token create --owner carol --name ci-export\n  curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8080/api/recordings",
	}
	var owner, name string
	create := &cobra.Command{
		Use:     "create",
		Short:   "Create a token; its secret is printed once",
		Example: "  jumpcast token create --owner carol --name nightly-export",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if owner == "" {
				return usageError{fmt.Errorf("--owner is required")}
			}
			return withBackend(g, func(b backend) error {
				tc, err := b.CreateToken(cmd.Context(), owner, name)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "token %s for %s (shown once):\n%s\n", tc.Token.ID, owner, tc.Secret)
				return nil
			})
		},
	}
	create.Flags().StringVar(&owner, "owner", "", "auditor the token acts as")
	create.Flags().StringVar(&name, "name", "", "a label")
	ls := &cobra.Command{
		Use: "ls", Short: "List tokens", Example: "  jumpcast token ls", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withBackend(g, func(b backend) error {
				ts, err := b.ListTokens(cmd.Context())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tOWNER\tNAME\tCREATED")
				for _, t := range ts {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Owner, t.Name, t.Created.Local().Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
	rm := &cobra.Command{
		Use: "rm ID", Short: "Revoke a token", Example: "  jumpcast token rm 3f9a1c2b", Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBackend(g, func(b backend) error { return b.DeleteToken(cmd.Context(), args[0]) })
		},
	}
	cmd.AddCommand(create, ls, rm)
	return cmd
}

func newAuditCmd(g *globalFlags) *cobra.Command {
	var f store.AuditFilter
	var since, kind string
	cmd := &cobra.Command{
		Use:     "audit",
		Short:   "Print audit events (logins, policy decisions, sessions, playbacks, purges), newest first",
		Example: "  jumpcast audit --since 1h\n  jumpcast audit --kind policy --user alice",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if f.Since, err = parseWhen(since, time.Now()); err != nil {
				return usageError{fmt.Errorf("--since: %w", err)}
			}
			f.Kind = audit.Kind(kind)
			return withBackend(g, func(b backend) error {
				page, err := b.ListAudit(cmd.Context(), f)
				if err != nil {
					return err
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				for _, ev := range page.Events {
					if err := enc.Encode(ev); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "RFC 3339 time, date, or a duration ago")
	cmd.Flags().StringVar(&kind, "kind", "", kindList())
	cmd.Flags().StringVar(&f.User, "user", "", "bastion user or auditor")
	cmd.Flags().IntVar(&f.Limit, "limit", 100, "events to print")
	return cmd
}

// kindList is the --kind flag's help: every audit event kind.
func kindList() string {
	kinds := audit.Kinds()
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

func newBackupCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the index database (works while the server runs)",
		Long: `Write a consistent copy of the bbolt index to FILE, through the running
server's admin socket when it runs (a hot backup). Back up the recordings
folder with any file-level tool; files are never modified once closed.`,
		Example: "  jumpcast backup /var/backups/jumpcast-$(date +%F).db",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBackend(g, func(b backend) error {
				f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					return err
				}
				n, err := b.Backup(cmd.Context(), f)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					_ = os.Remove(args[0])
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%s)\n", args[0], humanBytes(n))
				return nil
			})
		},
	}
}
