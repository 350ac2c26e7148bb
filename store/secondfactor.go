package store

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrCodeUsed is returned by UseTOTPStep for a time step at or before the
// last one accepted: a one-time code replayed.
var ErrCodeUsed = errors.New("code already used")

// SecondFactor is a local web account's second factor: a TOTP secret,
// recovery codes (their hashes) and passkeys. It is kept beside the
// account row, not in it, so that PutAccount (a password or role change)
// leaves it alone; DeleteAccount deletes it too.
type SecondFactor struct {
	Account string `json:"account"`
	// TOTPSecret is the RFC 6238 secret (base32); "" when TOTP is not
	// enrolled.
	TOTPSecret string `json:"totp_secret,omitempty"`
	// TOTPLastStep is the time step (Unix time / period) of the last
	// accepted code; a code of that step or an earlier one is refused.
	TOTPLastStep int64 `json:"totp_last_step,omitempty"`
	// RecoveryHashes are the hex SHA-256 hashes of the unused recovery
	// codes; each is removed when used.
	RecoveryHashes []string `json:"recovery_hashes,omitempty"`
	// Passkeys are the account's WebAuthn credentials.
	Passkeys []Passkey `json:"passkeys,omitempty"`
	Updated  time.Time `json:"updated"`
}

// Passkey is one WebAuthn credential. Credential is the WebAuthn
// library's record of it (public key, sign count, flags), opaque to the
// store.
type Passkey struct {
	ID         []byte          `json:"id"` // the credential id
	Name       string          `json:"name"`
	Credential json.RawMessage `json:"credential"`
	Created    time.Time       `json:"created"`
}

// Enrolled reports whether f holds a factor to sign in with (TOTP or a
// passkey; recovery codes alone are not one). A nil f has none.
func (f *SecondFactor) Enrolled() bool {
	return f != nil && (f.TOTPSecret != "" || len(f.Passkeys) > 0)
}

// PutSecondFactor creates or replaces f.Account's second factor. The
// account must exist (ErrNotFound otherwise). A zero Updated is set to now.
func (s *Store) PutSecondFactor(ctx context.Context, f SecondFactor) error {
	if f.Updated.IsZero() {
		f.Updated = time.Now().UTC()
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketAccounts).Get([]byte(f.Account)) == nil {
			return ErrNotFound
		}
		return putJSON(tx.Bucket(bucketSecondFactors), f.Account, &f)
	})
	if err != nil {
		return fmt.Errorf("put second factor %s: %w", f.Account, err)
	}
	return nil
}

// GetSecondFactor returns account's second factor, or an error wrapping
// ErrNotFound when it has none.
func (s *Store) GetSecondFactor(ctx context.Context, account string) (*SecondFactor, error) {
	var f SecondFactor
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketSecondFactors), []byte(account), &f)
	})
	if err != nil {
		return nil, fmt.Errorf("get second factor %s: %w", account, err)
	}
	return &f, nil
}

// DeleteSecondFactor removes account's second factor (every TOTP secret,
// recovery code and passkey); ErrNotFound when it has none.
func (s *Store) DeleteSecondFactor(ctx context.Context, account string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSecondFactors)
		if b.Get([]byte(account)) == nil {
			return ErrNotFound
		}
		return b.Delete([]byte(account))
	})
	if err != nil {
		return fmt.Errorf("delete second factor %s: %w", account, err)
	}
	return nil
}

// UseTOTPStep records that a TOTP code of time step step was accepted for
// account, atomically: ErrCodeUsed when step is not after the last
// accepted one, ErrNotFound when the account has no TOTP.
func (s *Store) UseTOTPStep(ctx context.Context, account string, step int64) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSecondFactors)
		var f SecondFactor
		if err := getJSON(b, []byte(account), &f); err != nil {
			return err
		}
		if err := f.UseStep(step); err != nil {
			return err
		}
		return putJSON(b, account, &f)
	})
	if err != nil {
		return fmt.Errorf("use TOTP code of %s: %w", account, err)
	}
	return nil
}

// UseRecoveryCode removes the unused recovery code whose hash is hash from
// account, atomically, and returns how many are left; ErrNotFound when
// hash is not one of them.
func (s *Store) UseRecoveryCode(ctx context.Context, account, hash string) (int, error) {
	var left int
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSecondFactors)
		var f SecondFactor
		if err := getJSON(b, []byte(account), &f); err != nil {
			return err
		}
		if err := f.UseRecovery(hash); err != nil {
			return err
		}
		left = len(f.RecoveryHashes)
		return putJSON(b, account, &f)
	})
	if err != nil {
		return 0, fmt.Errorf("use recovery code of %s: %w", account, err)
	}
	return left, nil
}

// UseStep is UseTOTPStep's rule applied to f in memory; every backend
// decides with it, inside its transaction.
func (f *SecondFactor) UseStep(step int64) error {
	if f.TOTPSecret == "" {
		return ErrNotFound
	}
	if step <= f.TOTPLastStep {
		return ErrCodeUsed
	}
	f.TOTPLastStep = step
	return nil
}

// UseRecovery is UseRecoveryCode's rule applied to f in memory (hash is
// compared with every stored one in constant time); every backend decides
// with it, inside its transaction.
func (f *SecondFactor) UseRecovery(hash string) error {
	at := -1
	for i, h := range f.RecoveryHashes {
		if subtle.ConstantTimeCompare([]byte(h), []byte(hash)) == 1 {
			at = i
		}
	}
	if at < 0 || hash == "" {
		return ErrNotFound
	}
	f.RecoveryHashes = append(f.RecoveryHashes[:at:at], f.RecoveryHashes[at+1:]...)
	return nil
}

func putJSON(b *bolt.Bucket, k string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(k), data)
}
