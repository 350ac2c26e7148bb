package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/jumpcast/jumpcast/config"
)

func newServeCmd(g *globalFlags) *cobra.Command {
	var sshListen, webListen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the bastion: SSH proxy, recorder and web site",
		Long: `Run the bastion. Without -c it starts on the embedded defaults: data in ./data,
a host key generated once, SSH on :2222, the web site on 127.0.0.1:8080.
SIGHUP reloads the policy from the config file without dropping sessions;
SIGTERM stops accepting, gives sessions ssh.shutdown_grace, then closes them.`,
		Example: `  jumpcast serve
  jumpcast serve -c /etc/jumpcast/jumpcast.yaml
  jumpcast serve --ssh-listen 127.0.0.1:2222 --web-listen ""`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("ssh-listen") {
				cfg.SSH.Listen = sshListen
			}
			if cmd.Flags().Changed("web-listen") {
				cfg.Web.Listen = webListen
			}
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			logger := newLogger(cfg.Log, os.Stderr)
			p, err := newProgram(cfg, g.configPath, logger)
			if err != nil {
				return err
			}
			defer func() { _ = p.Close() }()
			printWelcome(cmd.OutOrStdout(), cfg, g.configPath, p)
			return p.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&sshListen, "ssh-listen", "", "SSH listen address (overrides ssh.listen)")
	cmd.Flags().StringVar(&webListen, "web-listen", "", `web listen address, "" to disable (overrides web.listen)`)
	return cmd
}

// newLogger builds the process logger: JSON when stderr is not a terminal,
// text when it is, unless log.format says otherwise.
func newLogger(c config.Log, w *os.File) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	format := c.Format
	if format == "auto" {
		format = "json"
		if term.IsTerminal(int(w.Fd())) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// sshHint is an example ssh command line for this bastion.
func sshHint(listen, user, target string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	p := ""
	if port != "22" {
		p = "-p " + port + " "
	}
	return fmt.Sprintf("ssh %s%s@%s@%s", p, user, target, host)
}

// printWelcome tells a newcomer what to do next: on first start (no users)
// how to add themselves, and always the ssh line and the web address.
func printWelcome(w io.Writer, cfg *config.Config, cfgPath string, p *program) {
	fmt.Fprintf(w, "jumpcast %s: SSH on %s, web on %s, data in %s\n",
		version, p.sshLn.Addr(), webAddr(p.webLn), cfg.DataDir)
	if p.opsLn != nil {
		fmt.Fprintf(w, "metrics and health probes WITHOUT authentication on http://%s/metrics\n", p.opsLn.Addr())
	}
	if len(cfg.Users) == 0 {
		self := os.Getenv("USER")
		if self == "" {
			self = "me"
		}
		var b strings.Builder
		b.WriteString("\nNo users yet: nobody can log in. To add yourself and a target:\n")
		prog := invokedAs()
		fmt.Fprintf(&b, "  %s config init --user %s --key ~/.ssh/id_ed25519.pub --target db1=10.0.0.5:22 > jumpcast.yaml\n", prog, self)
		fmt.Fprintf(&b, "  then restart with: make run   (or: %s serve -c jumpcast.yaml)\n", prog)
		fmt.Fprintf(&b, "and connect with:    %s\n", sshHint(p.sshLn.Addr().String(), "root", "db1"))
		fmt.Fprintf(&b, "Auditors:            %s auditor add NAME --admin%s\n", prog, cflag(cfgPath))
		b.WriteString("No server to try it on? `make demo` starts a throw-away bastion with a demo target.\n")
		fmt.Fprint(w, b.String())
		return
	}
	fmt.Fprintf(w, "connect with: %s\n", sshHint(p.sshLn.Addr().String(), "USER", "TARGET"))
}

// invokedAs is how to run this program again from the same shell: the
// path it was started by ("./bin/jumpcast" under make run), or "jumpcast"
// when it was found on PATH.
func invokedAs() string {
	if p := os.Args[0]; strings.ContainsRune(p, '/') && !strings.Contains(p, "/go-build") && !strings.HasSuffix(p, ".test") {
		return p
	}
	return "jumpcast"
}

// cflag repeats -c FILE for commands printed to the operator.
func cflag(cfgPath string) string {
	if cfgPath == "" {
		return ""
	}
	return " -c " + cfgPath
}
