-- A local web account's second factor (store.SecondFactor as JSON: TOTP
-- secret and last step, recovery code hashes, passkeys), beside the
-- account row so that a password change keeps it; it goes with the
-- account.
CREATE TABLE second_factors (
    account text COLLATE "C" PRIMARY KEY REFERENCES accounts (name) ON DELETE CASCADE,
    data    jsonb NOT NULL
);
