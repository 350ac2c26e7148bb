package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/jumpcast/jumpcast/replayweb"
	"github.com/jumpcast/jumpcast/store"
)

// newAccountCmd is `jumpcast auditor`, the web accounts of every role. The
// command keeps the name operators know; `jumpcast account` is the same.
func newAccountCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "auditor",
		Aliases: []string{"account"},
		Short:   "Manage the web site's accounts (also: jumpcast account)",
		Long: `Manage the web site's accounts, of every role ("jumpcast account" is the
same command). These work whether or not the server runs.
Passwords are read from the terminal, or from stdin when it is not one.

Roles: auditor sees every recording; admin also manages accounts and API
tokens; user is an SSH user of the bastion who sees only their own sessions
(the account's name must be their bastion user name).`,
		Example: `  jumpcast auditor add carol --role admin
  echo 'long passphrase' | jumpcast auditor add dave
  jumpcast auditor add alice --role user`,
	}
	cmd.AddCommand(newAccountAddCmd(g), newAccountLsCmd(g), newAccountRmCmd(g), newAccountResetMFACmd(g))
	return cmd
}

// accountRole resolves --role and its alias --admin: auditor when neither
// is given; an unknown role, or --admin with another --role, is a usage
// error naming the flag.
func accountRole(role string, roleSet, admin bool) (string, error) {
	if !roleSet {
		if admin {
			return store.RoleAdmin, nil
		}
		return store.RoleAuditor, nil
	}
	if !store.ValidRole(role) {
		return "", usageError{fmt.Errorf("--role %q: want %s", role, strings.Join(store.Roles(), ", "))}
	}
	if admin && role != store.RoleAdmin {
		return "", usageError{fmt.Errorf("--admin is --role admin; it contradicts --role %s", role)}
	}
	return role, nil
}

func newAccountAddCmd(g *globalFlags) *cobra.Command {
	var admin bool
	var roleFlag string
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a web account (or set a new password and role for one)",
		Example: "  jumpcast auditor add carol --role admin\n  printf '%s\\n' \"$PW\" | jumpcast auditor add dave\n" +
			"  jumpcast auditor add alice --role user   # alice, an SSH user, sees her own sessions",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !validAccountName(name) {
				return usageError{fmt.Errorf("%q: names are 1-64 letters, digits, '.', '_' or '-'", name)}
			}
			role, err := accountRole(roleFlag, cmd.Flags().Changed("role"), admin)
			if err != nil {
				return err
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if _, ok := cfg.Users[name]; role == store.RoleUser && !ok {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s is not a bastion user in %s; a user account sees only the recordings of the bastion user of the same name\n", name, configSource(g.configPath))
			}
			pw, err := readPassword(cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			hash, err := replayweb.HashPassword(pw)
			if err != nil {
				return err
			}
			return withConfigBackend(cfg, func(b backend) error {
				a := store.Account{Name: name, PasswordHash: hash, Role: role, Created: time.Now().UTC()}
				if err := b.PutAccount(cmd.Context(), a); err != nil {
					return err
				}
				where := "log in on the web site"
				if u, err := b.WebURL(cmd.Context()); err == nil && u != "" {
					where = "log in at " + u
				}
				fmt.Fprintf(cmd.OutOrStdout(), "account %s saved (role %s); %s\n", name, role, where)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&roleFlag, "role", store.RoleAuditor, "auditor (sees all recordings), admin (also manages accounts and API tokens) or user (an SSH user: sees only their own)")
	cmd.Flags().BoolVar(&admin, "admin", false, "the same as --role admin")
	return cmd
}

// configSource names where the configuration came from (the -c path),
// for messages.
func configSource(path string) string {
	if path == "" {
		return "the default configuration (no -c)"
	}
	return path
}

func validAccountName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// readPassword prompts twice on a terminal; from a pipe it reads one line.
// The password rule is replayweb's (CheckNewPassword, through
// HashPassword), the same as the admin page's.
func readPassword(in io.Reader, prompt io.Writer) (string, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(prompt, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		fmt.Fprint(prompt, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func newAccountLsCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Short:   "List the web accounts",
		Example: "  jumpcast auditor ls",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withBackend(g, func(b backend) error {
				as, err := b.ListAccounts(cmd.Context())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tCREATED")
				for _, a := range as {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Name, a.Role, a.Created.Local().Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
}

func newAccountRmCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Short:   "Delete a web account and its API tokens",
		Example: "  jumpcast auditor rm dave",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBackend(g, func(b backend) error {
				if err := b.DeleteAccount(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "account %s deleted\n", args[0])
				return nil
			})
		},
	}
}

func newAccountResetMFACmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "reset-mfa NAME",
		Short: "Remove a web account's second factor (authenticator app, passkeys, recovery codes)",
		Long: `Remove every second factor of a local web account: its authenticator app,
passkeys and recovery codes, for someone who lost them all. The account signs
in with its password alone next time (or, with web.require_second_factor, is
asked to set up a new factor first). An audit event records it.`,
		Example: "  jumpcast auditor reset-mfa dave",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBackend(g, func(b backend) error {
				if err := b.ResetSecondFactor(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "second factor of %s removed\n", args[0])
				return nil
			})
		},
	}
}
