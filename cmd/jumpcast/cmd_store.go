package main

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/bastion"
	"github.com/jumpcast/jumpcast/store"
	"github.com/jumpcast/jumpcast/store/postgres"
)

func newStoreCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Manage the index (store.driver)",
	}
	var from, dbPath string
	migrate := &cobra.Command{
		Use:   "migrate --from bbolt",
		Short: "Copy a single node's bbolt index into the PostgreSQL index of the config",
		Long: `Copies every recording, account, API token, audit event, lock and pinned host
key of a bbolt index (default: data_dir/jumpcast.db) into the PostgreSQL
database the config names (store.driver: postgres, store.dsn or
JUMPCAST_STORE_DSN), keeping ids, times and credential versions, then checks
by counts that every row is there. Rows already in PostgreSQL are kept, so
running it again copies nothing new. Stop jumpcast serve on the bbolt index
first (it holds the file). Recording files are not moved: the nodes read
them from the recordings folder as before.`,
		Example: "  jumpcast store migrate --from bbolt -c jumpcast.yaml\n  jumpcast store migrate --from bbolt --db /backup/jumpcast.db -c jumpcast.yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from != config.DriverBbolt {
				return usageError{fmt.Errorf("--from %q: only bbolt can be migrated from", from)}
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if cfg.Store.Driver != config.DriverPostgres {
				return usageError{errors.New("the config's store.driver must be postgres: it names where the index goes")}
			}
			if dbPath == "" {
				dbPath = bastion.DBPath(cfg)
			}
			if _, err := os.Stat(dbPath); err != nil {
				return fmt.Errorf("bbolt index: %w", err)
			}
			src, err := store.Open(dbPath, store.Options{Timeout: time.Second})
			if err != nil {
				return err
			}
			defer func() { _ = src.Close() }()
			if cfg.Store.DSN == "" {
				return usageError{fmt.Errorf("store.dsn is empty (set it, or %s)", config.StoreDSNEnv)}
			}
			dst, err := postgres.Open(cmd.Context(), cfg.Store.DSN, postgres.Options{})
			if err != nil {
				return err
			}
			defer func() { _ = dst.Close() }()
			counts, err := dst.Import(cmd.Context(), src)
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KIND\tIN BBOLT\tCOPIED NOW\tIN POSTGRESQL")
			for _, c := range counts {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", c.Kind, c.Source, c.Copied, c.Present)
			}
			_ = tw.Flush()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s copied to PostgreSQL; every row verified by counts\n", dbPath)
			return nil
		},
	}
	migrate.Flags().StringVar(&from, "from", "", "the index to copy from: bbolt")
	migrate.Flags().StringVar(&dbPath, "db", "", "the bbolt file (default: data_dir/jumpcast.db)")
	cmd.AddCommand(migrate)
	return cmd
}
