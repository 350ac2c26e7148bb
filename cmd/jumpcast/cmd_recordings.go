package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

func newRecordingsCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "recordings",
		Aliases: []string{"rec"},
		Short:   "List, show, search, verify, end, export and compact recordings",
		Long: `List, show, search, verify, end, export and compact recordings. These work whether or not the server runs:
with a server running they talk to it over its admin socket in the data folder.`,
		Example: `  jumpcast recordings ls --user alice --since 24h
  jumpcast recordings show 20261124T093012.345678Z-3f9a1c2b
  jumpcast recordings grep 'rm -rf' --since 24h
  jumpcast recordings verify
  jumpcast recordings export 20261124T093012.345678Z-3f9a1c2b -o session.cast
  jumpcast recordings compact --all
  jumpcast recordings end 20261124T093012.345678Z-3f9a1c2b --reason "change freeze"`,
	}
	cmd.AddCommand(newRecLsCmd(g), newRecShowCmd(g), newRecGrepCmd(g), newRecVerifyCmd(g), newRecEndCmd(g),
		newRecExportCmd(g), newRecCompactCmd(g))
	return cmd
}

func newRecLsCmd(g *globalFlags) *cobra.Command {
	var f store.Filter
	var since, until string
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls",
		Short:   "List recordings, newest first",
		Example: "  jumpcast recordings ls --target db1 --status active\n  jumpcast recordings ls --since 2026-11-01 --until 2026-11-02 --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			now := time.Now()
			if f.Since, err = parseWhen(since, now); err != nil {
				return usageError{fmt.Errorf("--since: %w", err)}
			}
			if f.Until, err = parseWhen(until, now); err != nil {
				return usageError{fmt.Errorf("--until: %w", err)}
			}
			return withBackend(g, func(b backend) error {
				page, err := b.ListRecordings(cmd.Context(), f)
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(cmd.OutOrStdout()).Encode(page)
				}
				printRecordings(cmd.OutOrStdout(), page)
				return nil
			})
		},
	}
	fl := cmd.Flags()
	addFilterFlags(fl, &f, &since, &until)
	fl.IntVar(&f.Limit, "limit", 50, "rows per page")
	fl.StringVar(&f.Cursor, "cursor", "", "continue from a previous page")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// addFilterFlags adds the recording filters that ls and grep share.
func addFilterFlags(fl *pflag.FlagSet, f *store.Filter, since, until *string) {
	fl.StringVar(&f.User, "user", "", "bastion user")
	fl.StringVar(&f.Target, "target", "", "target alias or host")
	fl.StringVar(&f.RemoteUser, "remote-user", "", "remote user")
	fl.StringVar((*string)(&f.Status), "status", "", "active, finished, interrupted or failed")
	fl.StringVar(&f.Text, "text", "", "text in the title or command")
	fl.StringVar(since, "since", "", "start at or after: RFC 3339 time, date, or a duration ago (24h)")
	fl.StringVar(until, "until", "", "start before: RFC 3339 time, date, or a duration ago")
}

// parseWhen accepts an RFC 3339 time, a date (YYYY-MM-DD, local time) or a
// duration meaning "that long ago".
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time, date or duration", s)
}

func printRecordings(w io.Writer, page store.Page) {
	if len(page.Items) == 0 {
		fmt.Fprintln(w, "no recordings")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tREMOTE\tCLIENT\tSTART\tDURATION\tSIZE\tEXIT\tSTATUS")
	for _, r := range page.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.User, remoteOf(r), r.ClientAddr,
			r.Start.Local().Format("2006-01-02 15:04:05"), r.Duration.Round(time.Second), humanBytes(r.FileSize),
			exitOf(r), r.Status)
	}
	_ = tw.Flush()
	if page.Next != "" {
		fmt.Fprintf(w, "more: --cursor %s\n", page.Next)
	}
}

func remoteOf(r recording.Meta) string {
	t := r.TargetAlias
	if t == "" {
		t = r.TargetAddr
	}
	return r.RemoteUser + "@" + t
}

func exitOf(r recording.Meta) string {
	switch {
	case r.ExitSignal != "":
		return "SIG" + r.ExitSignal
	case r.ExitStatus != nil:
		return fmt.Sprint(*r.ExitStatus)
	}
	return "-"
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func newRecShowCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "show ID",
		Short:   "Show everything the index knows about one recording",
		Example: "  jumpcast recordings show 20261124T093012.345678Z-3f9a1c2b",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBackend(g, func(b backend) error {
				r, err := b.GetRecording(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			})
		},
	}
}

func newRecEndCmd(g *globalFlags) *cobra.Command {
	var why string
	var whole bool
	cmd := &cobra.Command{
		Use:   "end ID",
		Short: "End a running session; its admin is told why",
		Long: `End a running session (a recording whose status is active) on the running
server. The admin's terminal shows "jumpcast: session ended by an operator on the
bastion[: REASON]" and ssh exits with 255; the recording is finalized with that
line as its exit reason, and the audit log gets a session/terminated event.
With --connection, every session and forward on the admin's SSH connection
ends ("jumpcast: connection ended by an operator on the bastion[: REASON]")
and the connection closes, so that no further command runs over it (an
OpenSSH ControlMaster would run the next one); the audit log gets a
connection/terminated event. Auditors with the admin role can do the same
from the recording's web page.`,
		Example: `  jumpcast recordings ls --status active
  jumpcast recordings end 20261124T093012.345678Z-3f9a1c2b --reason "change freeze"
  jumpcast recordings end 20261124T093012.345678Z-3f9a1c2b --connection`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBackend(g, func(b backend) error {
				if err := b.EndSession(cmd.Context(), args[0], why, whole); err != nil {
					return err
				}
				what := "session"
				if whole {
					what = "the connection of session"
				}
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "ended %s %s\n", what, args[0])
				return err
			})
		},
	}
	cmd.Flags().StringVar(&why, "reason", "", "the reason shown on the admin's terminal (at most 200 characters)")
	cmd.Flags().BoolVar(&whole, "connection", false, "end every session on the admin's connection and close it")
	return cmd
}

func newRecVerifyCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "verify [ID...]",
		Short: "Re-hash recording files and compare them with the index",
		Long: `Re-hash recording files and compare each with the SHA-256 stored in the index
when it was closed. Without IDs, every closed recording is checked. Exits 1 if
any file is missing or changed.`,
		Example: "  jumpcast recordings verify\n  jumpcast recordings verify 20261124T093012.345678Z-3f9a1c2b",
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBackend(g, func(b backend) error {
				return verifyRecordings(cmd, b, args)
			})
		},
	}
}

// closedRecordingIDs pages through every recording that is no longer
// active and returns the ids of those keep accepts (nil: all of them), for
// the commands that work on "every recording" (verify, compact --all).
func closedRecordingIDs(ctx context.Context, b backend, keep func(recording.Meta) bool) ([]string, error) {
	var ids []string
	f := store.Filter{Limit: 500}
	for {
		page, err := b.ListRecordings(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, r := range page.Items {
			if r.Status != recording.StatusActive && (keep == nil || keep(r)) {
				ids = append(ids, r.ID)
			}
		}
		if page.Next == "" {
			return ids, nil
		}
		f.Cursor = page.Next
	}
}

func verifyRecordings(cmd *cobra.Command, b backend, ids []string) error {
	ctx := cmd.Context()
	if len(ids) == 0 {
		var err error
		if ids, err = closedRecordingIDs(ctx, b, nil); err != nil {
			return err
		}
	}
	bad := 0
	w := cmd.OutOrStdout()
	for _, id := range ids {
		res, err := b.Verify(ctx, id)
		if err != nil {
			return err
		}
		if res.OK {
			fmt.Fprintf(w, "ok       %s  %s\n", id, res.Actual)
			continue
		}
		bad++
		fmt.Fprintf(w, "FAILED   %s  %s (index %s, file %s)\n", id, res.Problem, short(res.Expected), short(res.Actual))
	}
	fmt.Fprintf(w, "%d verified, %d failed\n", len(ids)-bad, bad)
	if bad > 0 {
		return errors.New(strings.TrimSpace(fmt.Sprintf("%d recording(s) failed verification", bad)))
	}
	return nil
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	if h == "" {
		return "-"
	}
	return h
}
