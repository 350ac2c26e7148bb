package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jumpcast/jumpcast/store"
)

// PutAccount creates or replaces the web account a.Name, as
// store.Store.PutAccount does; new credential versions come from the
// sequence credential_version, so no two accounts (nor a deleted and
// re-created one) ever share one, whichever node made it.
func (s *Store) PutAccount(ctx context.Context, a store.Account) (store.Account, error) {
	if a.Name == "" {
		return store.Account{}, errors.New("put account: empty name")
	}
	if !store.ValidRole(a.Role) {
		return store.Account{}, fmt.Errorf("put account %s: role %q (want %s, %s or %s)", a.Name, a.Role, store.RoleUser, store.RoleAuditor, store.RoleAdmin)
	}
	if a.Created.IsZero() {
		a.Created = time.Now().UTC()
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var hash, role string
		var version uint64
		err := tx.QueryRow(ctx, `SELECT password_hash, role, credential_version FROM accounts WHERE name = $1 FOR UPDATE`, a.Name).
			Scan(&hash, &role, &version)
		switch {
		case err == nil && hash == a.PasswordHash && role == a.Role:
			a.CredentialVersion = version
		case err == nil || errors.Is(err, pgx.ErrNoRows):
			if err := tx.QueryRow(ctx, `SELECT nextval('credential_version')`).Scan(&a.CredentialVersion); err != nil {
				return err
			}
		default:
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO accounts (name, password_hash, role, created_ns, credential_version)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET password_hash = EXCLUDED.password_hash,
			role = EXCLUDED.role, created_ns = EXCLUDED.created_ns, credential_version = EXCLUDED.credential_version`,
			a.Name, a.PasswordHash, a.Role, a.Created.UnixNano(), a.CredentialVersion)
		return err
	})
	if err != nil {
		return store.Account{}, fmt.Errorf("put account %s: %w", a.Name, unavailable(err))
	}
	return a, nil
}

const accountCols = `name, password_hash, role, created_ns, credential_version`

func scanAccount(row pgx.Row) (store.Account, error) {
	var a store.Account
	var created int64
	err := row.Scan(&a.Name, &a.PasswordHash, &a.Role, &created, &a.CredentialVersion)
	a.Created = time.Unix(0, created).UTC()
	return a, err
}

// GetAccount returns one web account, or an error wrapping
// store.ErrNotFound.
func (s *Store) GetAccount(ctx context.Context, name string) (*store.Account, error) {
	a, err := scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get account %s: %w", name, unavailable(err))
	}
	return &a, nil
}

// ListAccounts returns every web account, by name.
func (s *Store) ListAccounts(ctx context.Context) ([]store.Account, error) {
	out, err := queryAll(ctx, s, `SELECT `+accountCols+` FROM accounts ORDER BY name`, scanAccount)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", unavailable(err))
	}
	return out, nil
}

// DeleteAccount removes a web account and every API token it owns, in one
// transaction; store.ErrNotFound when there is no such account.
func (s *Store) DeleteAccount(ctx context.Context, name string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM accounts WHERE name = $1`, name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		_, err = tx.Exec(ctx, `DELETE FROM api_tokens WHERE owner = $1`, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete account %s: %w", name, unavailable(err))
	}
	return nil
}

// PutToken creates or replaces the API token t.ID, as
// store.Store.PutToken does.
func (s *Store) PutToken(ctx context.Context, t store.APIToken) error {
	if t.ID == "" || t.Hash == "" {
		return fmt.Errorf("put token %q: empty id or hash", t.ID)
	}
	if t.Created.IsZero() {
		t.Created = time.Now().UTC()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO api_tokens (id, hash, owner, name, created_ns) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET hash = EXCLUDED.hash, owner = EXCLUDED.owner, name = EXCLUDED.name, created_ns = EXCLUDED.created_ns`,
		t.ID, t.Hash, t.Owner, t.Name, t.Created.UnixNano())
	if isUniqueViolation(err, "api_tokens_hash_key") {
		err = errors.New("another token has the same hash")
	}
	if err != nil {
		return fmt.Errorf("put token %s: %w", t.ID, unavailable(err))
	}
	return nil
}

const tokenCols = `id, hash, owner, name, created_ns`

func scanToken(row pgx.Row) (store.APIToken, error) {
	var t store.APIToken
	var created int64
	err := row.Scan(&t.ID, &t.Hash, &t.Owner, &t.Name, &created)
	t.Created = time.Unix(0, created).UTC()
	return t, err
}

// TokenByHash returns the token whose secret hashes to hash, or an error
// wrapping store.ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*store.APIToken, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("token by hash: %w", unavailable(err))
	}
	return &t, nil
}

// ListTokens returns every API token (hashes only), by id.
func (s *Store) ListTokens(ctx context.Context) ([]store.APIToken, error) {
	out, err := queryAll(ctx, s, `SELECT `+tokenCols+` FROM api_tokens ORDER BY id`, scanToken)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", unavailable(err))
	}
	return out, nil
}

// DeleteToken removes an API token; store.ErrNotFound when there is none.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM api_tokens WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("delete token %s: %w", id, unavailable(err))
	}
	return nil
}

// queryAll runs sql and scans every row with scan.
func queryAll[T any](ctx context.Context, s *Store, sql string, scan func(pgx.Row) (T, error), args ...any) ([]T, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
