package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jumpcast/jumpcast/config"
)

// globalFlags are the flags every subcommand takes.
type globalFlags struct {
	configPath string // -c: the config file; "" means embedded defaults
	dataDir    string // --data-dir: overrides data_dir
	logLevel   string
	logFormat  string
}

// loadConfig reads the config file (or the embedded defaults) and applies
// the flag overrides. It is the only place that turns flags into config.
func (g *globalFlags) loadConfig() (*config.Config, error) {
	var cfg *config.Config
	if g.configPath == "" {
		cfg = config.Default()
	} else {
		c, err := config.Load(g.configPath)
		if err != nil {
			return nil, err
		}
		cfg = c
	}
	if g.dataDir != "" {
		cfg.DataDir = g.dataDir
	}
	if g.logLevel != "" {
		cfg.Log.Level = g.logLevel
	}
	if g.logFormat != "" {
		cfg.Log.Format = g.logFormat
	}
	if cfg.Store.Driver == config.DriverPostgres && cfg.Store.DSN == "" {
		cfg.Store.DSN = os.Getenv(config.StoreDSNEnv)
	}
	if err := cfg.Validate(); err != nil {
		return nil, usageError{err}
	}
	return cfg, nil
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "jumpcast",
		Short: "An SSH jump host that records every session",
		Long: `jumpcast is an SSH jump host that records. Admins reach servers with the ssh
client they already use (ssh -p 2222 root@db1@bastion); jumpcast authenticates
them, checks policy, verifies and dials the target, and records every terminal
session as an asciicast v2 file that auditors play back in a web page.`,
		Example: `  jumpcast serve -c jumpcast.yaml
  jumpcast config check -c jumpcast.yaml
  jumpcast recordings ls --user alice --since 24h`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&g.configPath, "config", "c", "", "config file (default: embedded defaults, data in ./data)")
	pf.StringVar(&g.dataDir, "data-dir", "", "data folder (overrides data_dir)")
	pf.StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error (overrides log.level)")
	pf.StringVar(&g.logFormat, "log-format", "", "json, text or auto (overrides log.format)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	root.AddCommand(
		newServeCmd(g),
		newConfigCmd(g),
		newRecordingsCmd(g),
		newPlayCmd(g),
		newAccountCmd(g),
		newTokenCmd(g),
		newAuditCmd(g),
		newLockCmd(g),
		newBackupCmd(g),
		newStoreCmd(g),
		newNodesCmd(g),
		newHostKeysCmd(g),
		newVersionCmd(),
		newIndexKeyframesCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print version, commit and Go version",
		Example: "  jumpcast version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "jumpcast %s (commit %s, %s %s/%s)\n",
				version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

// isCobraUsageError recognises the errors cobra makes for a bad command
// line; cobra does not type them.
func isCobraUsageError(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "requires at most", "invalid argument"} {
		if strings.HasPrefix(s, p) || strings.Contains(s, " "+p) {
			return true
		}
	}
	return false
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
