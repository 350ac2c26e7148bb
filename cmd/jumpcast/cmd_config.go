package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/bastion"
	"github.com/jumpcast/jumpcast/proxy"
	"github.com/jumpcast/jumpcast/store"
)

func newConfigCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check or create a config file",
		Example: `  jumpcast config check -c jumpcast.yaml
  jumpcast config init --user alice --key ~/.ssh/id_ed25519.pub --target db1=10.0.0.5:22 > jumpcast.yaml`,
	}
	cmd.AddCommand(newConfigCheckCmd(g), newConfigInitCmd())
	return cmd
}

func newConfigCheckCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Validate a config file and print the effective policy",
		Long: `Validate the config file given with -c (unknown keys and bad values are
errors naming the key and its line) and print who may reach what as whom.`,
		Example: "  jumpcast config check -c jumpcast.yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.configPath == "" {
				return usageError{fmt.Errorf("config check needs -c FILE")}
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			printPolicy(cmd.OutOrStdout(), g.configPath, cfg)
			if cfg.Store.Driver == config.DriverPostgres {
				checkClusterHostKeys(cmd.Context(), cmd.OutOrStdout(), cfg)
			}
			checkBucket(cmd.Context(), cmd.OutOrStdout(), cfg)
			return nil
		},
	}
}

// checkBucket says whether recording.s3's bucket answers with the
// credentials this environment gives (storage s3 only). A bucket that does
// not answer is a warning, not an error: the file itself is valid, and a
// node starts without it (recordings wait in the spool).
func checkBucket(ctx context.Context, w io.Writer, cfg *config.Config) {
	b, err := bastion.OpenBucket(cfg)
	if err != nil {
		fmt.Fprintf(w, "warning: recordings bucket: %v\n", err)
		return
	}
	if b == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.Check(ctx); err != nil {
		fmt.Fprintf(w, "warning: recordings bucket not usable: %v\n", err)
		return
	}
	fmt.Fprintf(w, "recordings: %s, reachable\n", b.Name())
}

// checkClusterHostKeys warns when nodes in the shared index's registry
// present other SSH host keys than cfg's: behind one balancer, admins
// would be told the host key changed. An index that does not answer is
// said, not an error: the file itself is valid.
func checkClusterHostKeys(ctx context.Context, w io.Writer, cfg *config.Config) {
	keys, err := bastion.ConfiguredHostKeys(cfg)
	if err != nil {
		fmt.Fprintf(w, "warning: host keys not compared with the other nodes: %v\n", err)
		return
	}
	if keys == nil {
		fmt.Fprintln(w, "host keys: none yet (serve generates one in data_dir); give every node the same ssh.host_keys")
		return
	}
	fps := bastion.HostKeyFingerprints(keys)
	var others []store.Node
	err = withConfigBackend(cfg, func(b backend) error {
		nodes, err := b.ListNodes(ctx)
		others = bastion.OtherHostKeys(cfg.Node(), fps, nodes)
		return err
	})
	if err != nil {
		fmt.Fprintf(w, "warning: host keys not compared with the other nodes: %v\n", err)
		return
	}
	for _, n := range others {
		fmt.Fprintf(w, "warning: node %s presents host keys %s, this config %s: admins behind one balancer will be told the host key changed; give every node the same ssh.host_keys\n",
			n.ID, strings.Join(n.HostKeys, ","), strings.Join(fps, ","))
	}
	if len(others) == 0 {
		fmt.Fprintf(w, "host keys: %s, as every node in the registry\n", strings.Join(fps, ","))
	}
}

// printPolicy prints the effective policy: one line per user and grant.
func printPolicy(w io.Writer, path string, cfg *config.Config) {
	reuse := "off"
	if d := cfg.Upstream.ReuseIdle; d > 0 {
		reuse = d.String()
	}
	banner := "none"
	if b := strings.TrimRight(cfg.SSH.Banner, "\n"); b != "" {
		banner = fmt.Sprintf("%d line(s)", strings.Count(b, "\n")+1)
	}
	fmt.Fprintf(w, "%s: OK (%d users, %d targets, host keys: %s, recording: %s, input recorded: %s, target logins kept: %s, login banner: %s)\n",
		path, len(cfg.Users), len(cfg.Targets), cfg.Upstream.HostKeyPolicy, cfg.Recording.OnFailure, inputRecorded(cfg.Recording.Input), reuse, banner)
	for _, note := range cfg.Deprecated {
		fmt.Fprintf(w, "%s: %s\n", path, note)
	}
	fmt.Fprintln(w)
	pol := proxy.NewPolicy(cfg)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tTARGET\tADDRESS\tAS\tFORWARDING")
	users := make([]string, 0, len(cfg.Users))
	for u := range cfg.Users {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		grants := pol.Grants(u)
		if len(grants) == 0 {
			fmt.Fprintf(tw, "%s\t(nothing)\t\t\t\n", u)
		}
		for _, gr := range grants {
			target, addr := gr.Target, gr.Address
			if len(gr.Hosts) > 0 {
				target, addr = "hosts "+strings.Join(gr.Hosts, ","), "(raw host)"
			}
			fwd := "no"
			if gr.PortForwarding {
				fwd = "port"
			}
			if gr.AgentForwarding {
				fwd += ",agent"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u, target, addr, strings.Join(gr.RemoteUsers, ","), fwd)
		}
	}
	_ = tw.Flush()
}

// inputRecorded words recording.input for config check.
func inputRecorded(m config.InputMode) string {
	switch m {
	case config.InputAuto:
		return "sessions without a PTY"
	case config.InputAll:
		return "all sessions"
	}
	return "none"
}

func newConfigInitCmd() *cobra.Command {
	var user, keyFile, as string
	var targets []string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Print a starter config file with one user and some targets",
		Example: `  jumpcast config init --user alice --key ~/.ssh/id_ed25519.pub \
      --target db1=10.0.0.5:22 --as root > jumpcast.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return configInit(cmd.OutOrStdout(), user, keyFile, as, targets)
		},
	}
	f := cmd.Flags()
	f.StringVar(&user, "user", os.Getenv("USER"), "bastion user name")
	f.StringVar(&keyFile, "key", "", "the user's public key file (e.g. ~/.ssh/id_ed25519.pub)")
	f.StringVar(&as, "as", "root", "remote users allowed, comma-separated")
	f.StringArrayVar(&targets, "target", nil, "ALIAS=HOST:PORT, repeatable")
	return cmd
}

func configInit(w io.Writer, user, keyFile, as string, targets []string) error {
	if keyFile == "" {
		return usageError{fmt.Errorf("--key: the user's public key file is required")}
	}
	data, err := os.ReadFile(expandHome(keyFile))
	if err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	if _, _, _, _, err := gossh.ParseAuthorizedKey(data); err != nil {
		return fmt.Errorf("--key %s: not a public key: %w", keyFile, err)
	}
	cfg := config.Config{
		DataDir: config.DefaultDataDir,
		Users:   map[string]config.User{},
		Targets: map[string]config.Target{},
	}
	var aliases []string
	for _, t := range targets {
		alias, addr, ok := strings.Cut(t, "=")
		if !ok {
			return usageError{fmt.Errorf("--target %q: want ALIAS=HOST:PORT", t)}
		}
		cfg.Targets[alias] = config.Target{Address: addr}
		aliases = append(aliases, alias)
	}
	u := config.User{Keys: []string{strings.TrimSpace(string(data))}}
	if len(aliases) > 0 {
		// The rule's defaults, which MarshalYAML leaves out of the file.
		u.Allow = []config.Rule{{Targets: aliases, As: strings.Split(as, ","), AgentAuth: true, AgentForwarding: true}}
	}
	cfg.Users[user] = u
	// Validate what we are about to print, so the file loads as written.
	check := cfg
	check.ApplyDefaults()
	if err := check.Validate(); err != nil {
		return usageError{err}
	}
	out, err := yaml.Marshal(starterConfig{cfg.DataDir, cfg.Users, cfg.Targets})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "# jumpcast config — see docs for every key; `jumpcast config check -c FILE` validates it.")
	_, err = w.Write(out)
	return err
}

// starterConfig is the subset config init writes (the rest keeps defaults).
type starterConfig struct {
	DataDir string                   `yaml:"data_dir"`
	Users   map[string]config.User   `yaml:"users"`
	Targets map[string]config.Target `yaml:"targets,omitempty"`
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return h + p[1:]
		}
	}
	return p
}
