package bastion

import (
	"context"
	"errors"
	"fmt"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/store"
	"github.com/jumpcast/jumpcast/store/postgres"
)

// OpenIndex opens the index cfg.Store names: the bbolt file in the data
// folder (noSync: skip fsync, for tests), or the PostgreSQL database at
// store.dsn, whose schema it brings up to date. The CLI opens it here too
// when no server runs, so both see the same index.
func OpenIndex(ctx context.Context, cfg *config.Config, noSync bool) (store.Index, error) {
	switch cfg.Store.Driver {
	case config.DriverPostgres:
		if cfg.Store.DSN == "" {
			return nil, errors.New("store.driver is postgres but store.dsn is empty (set it, or " + config.StoreDSNEnv + ")")
		}
		return postgres.Open(ctx, cfg.Store.DSN, postgres.Options{})
	case config.DriverBbolt, "":
		s, err := store.Open(DBPath(cfg), store.Options{Timeout: storeLockTimeout, NoSync: noSync})
		if err != nil {
			return nil, err
		}
		return s, nil // not a typed nil inside the interface
	default:
		return nil, fmt.Errorf("store.driver %q: want %s or %s", cfg.Store.Driver, config.DriverBbolt, config.DriverPostgres)
	}
}
