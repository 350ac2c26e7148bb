package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jumpcast/jumpcast/internal/lock"
)

func newLockCmd(g *globalFlags) *cobra.Command {
	var t lock.Target
	var reason string
	var dur time.Duration
	cmd := &cobra.Command{
		Use:   "lock [USER] [--key FINGERPRINT | --target TARGET] [--for DURATION] [--reason TEXT]",
		Short: "Lock a user, a key or a target out: open connections close, new ones are refused",
		Long: `Lock a bastion user, an SSH key (its SHA256 fingerprint; a CA's fingerprint locks
every certificate it signed) or a target out of the bastion. Every open connection
the lock matches is closed within a second, its sessions' terminals showing
"jumpcast: access locked (user alice): REASON"; new ones are refused with the same
line. Locks live in the index, so they survive restarts, until they expire (--for)
or are removed with "jumpcast lock rm". Each lock and unlock is an audit event.

With a server running, the lock goes through its admin socket and applies at
once; without one, it is written to the data folder and applies from the next
start.`,
		Example: `  jumpcast lock alice --reason "incident 42"
  jumpcast lock --key SHA256:2g0Nf6c0wtH1xqG2RvzBCwHVQ0Yb5fOm0ZkFJ9XlW1c --for 2h
  jumpcast lock --target db1 --for 30m --reason maintenance
  jumpcast lock ls
  jumpcast lock rm 3f9a1c2b0d4e5f60`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.MaximumNArgs(1)(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if t.User != "" {
					return usageError{errors.New("name the user once: as the argument or with --user")}
				}
				t.User = args[0]
			}
			if dur < 0 {
				return usageError{errors.New("--for: a lock cannot end in the past")}
			}
			l := lock.Lock{Target: t, Reason: reason}
			if dur > 0 {
				l.Expires = time.Now().Add(dur).UTC()
			}
			if err := l.Validate(); err != nil {
				return usageError{err}
			}
			return withBackend(g, func(b backend) error {
				made, err := b.CreateLock(cmd.Context(), l)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "lock %s: %s, %s\n", made.ID, made.Target, untilText(made))
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&t.User, "user", "", "a bastion user (the same as the USER argument)")
	fl.StringVar(&t.Key, "key", "", "an SSH key's or a user CA's fingerprint, SHA256:...")
	fl.StringVar(&t.Target, "target", "", "a target alias, or a host as admins type it")
	fl.DurationVar(&dur, "for", 0, "how long the lock lasts (2h, 30m); default: until removed")
	fl.StringVar(&reason, "reason", "", "why, shown to the admins it locks out (at most 200 characters)")
	cmd.MarkFlagsMutuallyExclusive("user", "key", "target")

	ls := &cobra.Command{
		Use:     "ls",
		Short:   "List locks, oldest first; expired ones say so",
		Example: "  jumpcast lock ls",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withBackend(g, func(b backend) error {
				locks, err := b.ListLocks(cmd.Context())
				if err != nil {
					return err
				}
				return printLocks(cmd.OutOrStdout(), locks, time.Now())
			})
		},
	}
	rm := &cobra.Command{
		Use:     "rm ID",
		Short:   "Remove a lock; what it locked out may connect again",
		Example: "  jumpcast lock rm 3f9a1c2b0d4e5f60",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBackend(g, func(b backend) error {
				l, err := b.RemoveLock(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "lock %s removed: %s\n", l.ID, l.Target)
				return nil
			})
		},
	}
	cmd.AddCommand(ls, rm)
	return cmd
}

// untilText says how long l lasts: "until removed", "until 2026-12-04
// 14:00:00 (in 2h0m0s)".
func untilText(l lock.Lock) string {
	if l.Expires.IsZero() {
		return "until removed"
	}
	return fmt.Sprintf("until %s (in %s)", l.Expires.Local().Format("2006-01-02 15:04:05"),
		time.Until(l.Expires).Round(time.Second))
}

// printLocks prints one lock per line, its id first.
func printLocks(w io.Writer, locks []lock.Lock, now time.Time) error {
	if len(locks) == 0 {
		_, err := fmt.Fprintln(w, "no locks")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLOCKS\tUNTIL\tCREATED\tBY\tREASON")
	for _, l := range locks {
		until := "removed"
		if !l.Expires.IsZero() {
			until = l.Expires.Local().Format("2006-01-02 15:04:05")
			if !l.InForce(now) {
				until += " (expired)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, l.Target, until,
			l.Created.Local().Format("2006-01-02 15:04:05"), l.CreatedBy, l.Reason)
	}
	return tw.Flush()
}
