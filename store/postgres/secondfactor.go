package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/jumpcast/jumpcast/store"
)

// PutSecondFactor creates or replaces f.Account's second factor, as
// store.Store.PutSecondFactor does (store.ErrNotFound without the account).
func (s *Store) PutSecondFactor(ctx context.Context, f store.SecondFactor) error {
	if f.Updated.IsZero() {
		f.Updated = time.Now().UTC()
	}
	data, err := json.Marshal(&f)
	if err != nil {
		return fmt.Errorf("put second factor %s: %w", f.Account, err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO second_factors (account, data) VALUES ($1, $2)
		ON CONFLICT (account) DO UPDATE SET data = EXCLUDED.data`, f.Account, data)
	if isForeignKeyViolation(err) {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("put second factor %s: %w", f.Account, unavailable(err))
	}
	return nil
}

// GetSecondFactor returns account's second factor, or an error wrapping
// store.ErrNotFound.
func (s *Store) GetSecondFactor(ctx context.Context, account string) (*store.SecondFactor, error) {
	f, err := getSecondFactor(ctx, s.pool.QueryRow(ctx, `SELECT data FROM second_factors WHERE account = $1`, account))
	if err != nil {
		return nil, fmt.Errorf("get second factor %s: %w", account, unavailable(err))
	}
	return f, nil
}

func getSecondFactor(ctx context.Context, row pgx.Row) (*store.SecondFactor, error) {
	var data []byte
	if err := row.Scan(&data); errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	var f store.SecondFactor
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// DeleteSecondFactor removes account's second factor; store.ErrNotFound
// when it has none.
func (s *Store) DeleteSecondFactor(ctx context.Context, account string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM second_factors WHERE account = $1`, account)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("delete second factor %s: %w", account, unavailable(err))
	}
	return nil
}

// UseTOTPStep records an accepted TOTP step, as store.Store.UseTOTPStep
// does: the row is locked, so two nodes cannot both accept one code.
func (s *Store) UseTOTPStep(ctx context.Context, account string, step int64) error {
	err := s.changeSecondFactor(ctx, account, func(f *store.SecondFactor) error { return f.UseStep(step) })
	if err != nil {
		return fmt.Errorf("use TOTP code of %s: %w", account, unavailable(err))
	}
	return nil
}

// UseRecoveryCode removes one unused recovery code, as
// store.Store.UseRecoveryCode does, and returns how many are left.
func (s *Store) UseRecoveryCode(ctx context.Context, account, hash string) (int, error) {
	var left int
	err := s.changeSecondFactor(ctx, account, func(f *store.SecondFactor) error {
		err := f.UseRecovery(hash)
		left = len(f.RecoveryHashes)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("use recovery code of %s: %w", account, unavailable(err))
	}
	return left, nil
}

// changeSecondFactor reads account's row FOR UPDATE, applies change and
// writes it back, in one transaction.
func (s *Store) changeSecondFactor(ctx context.Context, account string, change func(*store.SecondFactor) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		f, err := getSecondFactor(ctx, tx.QueryRow(ctx, `SELECT data FROM second_factors WHERE account = $1 FOR UPDATE`, account))
		if err != nil {
			return err
		}
		if err := change(f); err != nil {
			return err
		}
		data, err := json.Marshal(f)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE second_factors SET data = $2 WHERE account = $1`, account, data)
		return err
	})
}

// isForeignKeyViolation reports a row naming a parent that does not exist
// (a second factor for an account that does not).
func isForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}
