package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Roles lists the web account roles, least privileged first.
func Roles() []string { return []string{RoleUser, RoleAuditor, RoleAdmin} }

// ValidRole reports whether role is one of Roles.
func ValidRole(role string) bool {
	return role == RoleUser || role == RoleAuditor || role == RoleAdmin
}

// PutAccount creates or replaces the web account a.Name and returns the row
// as stored. The name must not be empty and the role must be one of Roles
// (ValidRole); a zero Created is set to now. A new account, a new password
// hash or a new role gets a new CredentialVersion (the bucket's sequence,
// so a deleted and re-created account never gets an old value back);
// otherwise the stored one is kept.
func (s *Store) PutAccount(ctx context.Context, a Account) (Account, error) {
	if a.Name == "" {
		return Account{}, errors.New("put account: empty name")
	}
	if !ValidRole(a.Role) {
		return Account{}, fmt.Errorf("put account %s: role %q (want %s, %s or %s)", a.Name, a.Role, RoleUser, RoleAuditor, RoleAdmin)
	}
	if a.Created.IsZero() {
		a.Created = time.Now().UTC()
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		var old Account
		switch err := getJSON(b, []byte(a.Name), &old); {
		case err == nil && old.PasswordHash == a.PasswordHash && old.Role == a.Role:
			a.CredentialVersion = old.CredentialVersion
		case err == nil || errors.Is(err, ErrNotFound):
			v, err := b.NextSequence()
			if err != nil {
				return err
			}
			a.CredentialVersion = v
		default:
			return err
		}
		data, err := json.Marshal(&a)
		if err != nil {
			return err
		}
		return b.Put([]byte(a.Name), data)
	})
	if err != nil {
		return Account{}, fmt.Errorf("put account %s: %w", a.Name, err)
	}
	return a, nil
}

// GetAccount returns one web account, or an error wrapping ErrNotFound.
func (s *Store) GetAccount(ctx context.Context, name string) (*Account, error) {
	var a Account
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketAccounts), []byte(name), &a)
	})
	if err != nil {
		return nil, fmt.Errorf("get account %s: %w", name, err)
	}
	return &a, nil
}

// ListAccounts returns every web account, by name.
func (s *Store) ListAccounts(ctx context.Context) ([]Account, error) {
	out, err := listJSON[Account](s, ctx, bucketAccounts, "account")
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return out, nil
}

// DeleteAccount removes a web account, its second factor and every API
// token it owns, in one transaction (a removed account must not keep API access). It returns
// ErrNotFound when there is no such account.
func (s *Store) DeleteAccount(ctx context.Context, name string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		if b.Get([]byte(name)) == nil {
			return ErrNotFound
		}
		if err := b.Delete([]byte(name)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketSecondFactors).Delete([]byte(name)); err != nil {
			return err
		}
		var owned []APIToken
		err := tx.Bucket(bucketTokens).ForEach(func(_, v []byte) error {
			var t APIToken
			if err := json.Unmarshal(v, &t); err != nil {
				return err
			}
			if t.Owner == name {
				owned = append(owned, t)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, t := range owned {
			if err := deleteToken(tx, t.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete account %s: %w", name, err)
	}
	return nil
}

// PutToken creates or replaces the API token t.ID. ID and Hash must not be
// empty, and no other token may have the same hash. A zero Created is set
// to now.
func (s *Store) PutToken(ctx context.Context, t APIToken) error {
	if t.ID == "" || t.Hash == "" {
		return fmt.Errorf("put token %q: empty id or hash", t.ID)
	}
	if t.Created.IsZero() {
		t.Created = time.Now().UTC()
	}
	data, err := json.Marshal(&t)
	if err != nil {
		return fmt.Errorf("put token %s: %w", t.ID, err)
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		hashes := tx.Bucket(bucketTokenHash)
		if other := hashes.Get([]byte(t.Hash)); other != nil && string(other) != t.ID {
			return errors.New("another token has the same hash")
		}
		var old APIToken
		switch err := getJSON(tx.Bucket(bucketTokens), []byte(t.ID), &old); {
		case err == nil:
			if err := hashes.Delete([]byte(old.Hash)); err != nil {
				return err
			}
		case !errors.Is(err, ErrNotFound):
			return err
		}
		if err := hashes.Put([]byte(t.Hash), []byte(t.ID)); err != nil {
			return err
		}
		return tx.Bucket(bucketTokens).Put([]byte(t.ID), data)
	})
	if err != nil {
		return fmt.Errorf("put token %s: %w", t.ID, err)
	}
	return nil
}

// TokenByHash returns the token whose secret hashes to hash (hex SHA-256),
// or an error wrapping ErrNotFound. Compare secrets by hashing them first;
// this lookup is by the hash, so it leaks no timing about the secret.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*APIToken, error) {
	var t APIToken
	err := s.view(ctx, func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketTokenHash).Get([]byte(hash))
		if id == nil {
			return ErrNotFound
		}
		return getJSON(tx.Bucket(bucketTokens), id, &t)
	})
	if err != nil {
		return nil, fmt.Errorf("token by hash: %w", err)
	}
	return &t, nil
}

// ListTokens returns every API token (hashes only), by id.
func (s *Store) ListTokens(ctx context.Context) ([]APIToken, error) {
	out, err := listJSON[APIToken](s, ctx, bucketTokens, "token")
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// DeleteToken removes an API token; ErrNotFound when there is none.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error { return deleteToken(tx, id) })
	if err != nil {
		return fmt.Errorf("delete token %s: %w", id, err)
	}
	return nil
}

func deleteToken(tx *bolt.Tx, id string) error {
	var t APIToken
	if err := getJSON(tx.Bucket(bucketTokens), []byte(id), &t); err != nil {
		return err
	}
	if err := tx.Bucket(bucketTokenHash).Delete([]byte(t.Hash)); err != nil {
		return err
	}
	return tx.Bucket(bucketTokens).Delete([]byte(id))
}

// getJSON decodes the value at k (ErrNotFound when absent). json.Unmarshal
// copies, so nothing refers to the page afterwards.
func getJSON(b *bolt.Bucket, k []byte, v any) error {
	data := b.Get(k)
	if data == nil {
		return ErrNotFound
	}
	return json.Unmarshal(data, v)
}

// listJSON decodes every value of a bucket of JSON rows, in key order;
// what names a row in errors.
func listJSON[T any](s *Store, ctx context.Context, bucket []byte, what string) ([]T, error) {
	var out []T
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			var row T
			if err := json.Unmarshal(v, &row); err != nil {
				return fmt.Errorf("%s %s: %w", what, k, err)
			}
			out = append(out, row)
			return nil
		})
	})
	return out, err
}
