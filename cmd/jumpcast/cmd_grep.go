package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/store"
)

// grepMatch is one line of one recording that matched, as --json prints it.
type grepMatch struct {
	ID         string  `json:"id"`
	Time       float64 `json:"time"` // seconds since the recording's start
	User       string  `json:"user"`
	RemoteUser string  `json:"remote_user"`
	Target     string  `json:"target"`
	Start      string  `json:"start"`
	Line       string  `json:"line"`
	URL        string  `json:"url,omitempty"` // the recording page, at that time
}

func newRecGrepCmd(g *globalFlags) *cobra.Command {
	var f store.Filter
	var since, until string
	var input, ignoreCase, asJSON bool
	var maxCount int
	cmd := &cobra.Command{
		Use:   "grep PATTERN",
		Short: "Find recordings by what was on the screen (or typed)",
		Long: `Search the text of recordings for a regular expression (Go syntax), newest
recording first, and print each matching line with the recording's id, the time
into the session, who and where. The text is what the terminal showed, with
escape sequences removed and backspaces applied; --input searches what was sent
instead (recorded as recording.input says: by default for sessions without a PTY). The filters are those of
"recordings ls". Exits 1 when nothing matched.

With the web site configured, --json gives each match a link that opens the
player at that moment.`,
		Example: `  jumpcast recordings grep 'rm -rf' --since 24h
  jumpcast recordings grep -i 'drop (table|database)' --target db1 --json
  jumpcast recordings grep --input '^sudo ' --user alice`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			expr := args[0]
			if ignoreCase {
				expr = "(?i)" + expr
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				return usageError{fmt.Errorf("PATTERN: %w", err)}
			}
			now := time.Now()
			if f.Since, err = parseWhen(since, now); err != nil {
				return usageError{fmt.Errorf("--since: %w", err)}
			}
			if f.Until, err = parseWhen(until, now); err != nil {
				return usageError{fmt.Errorf("--until: %w", err)}
			}
			code := asciicast.CodeOutput
			if input {
				code = asciicast.CodeInput
			}
			return withBackend(g, func(b backend) error {
				web, _ := b.WebURL(cmd.Context()) // links are a convenience: none is fine
				n, err := grepRecordings(cmd, b, f, re, code, maxCount, web, asJSON)
				if err == nil && n == 0 {
					err = errors.New("no line matched")
				}
				return err
			})
		},
	}
	fl := cmd.Flags()
	addFilterFlags(fl, &f, &since, &until)
	fl.BoolVar(&input, "input", false, "search what was typed instead of what was shown")
	fl.BoolVarP(&ignoreCase, "ignore-case", "i", false, "match without regard to case")
	fl.IntVar(&maxCount, "max-count", 10, "matching lines printed per recording (0: all)")
	fl.BoolVar(&asJSON, "json", false, "print one JSON object per match")
	return cmd
}

// grepRecordings scans every recording f selects, page by page, and
// prints the lines re matches; it returns how many it printed.
func grepRecordings(cmd *cobra.Command, b backend, f store.Filter, re *regexp.Regexp, code string, maxCount int, web string, asJSON bool) (int, error) {
	ctx := cmd.Context()
	w := cmd.OutOrStdout()
	enc := json.NewEncoder(w)
	total := 0
	f.Limit = 200
	for {
		page, err := b.ListRecordings(ctx, f)
		if err != nil {
			return total, err
		}
		for _, r := range page.Items {
			matches, err := grepCast(ctx, b, r.ID, re, code, maxCount)
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "jumpcast: %s: %v\n", r.ID, err)
				continue // a missing or unreadable file does not stop the search
			}
			for _, m := range matches {
				total++
				if !asJSON {
					fmt.Fprintf(w, "%s  +%s  %s → %s  %s\n", r.ID, asciicast.Offset(m.Time), r.User, remoteOf(r), m.Text)
					continue
				}
				gm := grepMatch{ID: r.ID, Time: m.Time, User: r.User, RemoteUser: r.RemoteUser, Target: r.TargetAlias,
					Start: r.Start.UTC().Format(time.RFC3339), Line: m.Text}
				if web != "" {
					gm.URL = web + "recordings/" + r.ID + "?" + m.Link()
				}
				if err := enc.Encode(gm); err != nil {
					return total, err
				}
			}
		}
		if page.Next == "" {
			return total, nil
		}
		f.Cursor = page.Next
	}
}

// grepCast returns the lines of one recording that re matches, at most
// maxCount (0: all).
func grepCast(ctx context.Context, b backend, id string, re *regexp.Regexp, code string, maxCount int) ([]asciicast.Line, error) {
	rc, err := b.Cast(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rc.Close() }()
	rd, err := asciicast.NewReader(rc)
	if err != nil {
		return nil, err
	}
	var out []asciicast.Line
	err = asciicast.ScanLines(rd, code, func(l asciicast.Line) bool {
		if re.MatchString(l.Text) {
			out = append(out, l)
		}
		return maxCount <= 0 || len(out) < maxCount
	})
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return out, err
	}
	return out, nil
}
