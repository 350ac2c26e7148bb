package replayweb

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/jumpcast/jumpcast/store"
)

// argon2id parameters for new hashes. They follow the OWASP password storage
// recommendation (19 MiB, 2 passes, 1 lane): about 30 ms per check on one
// core, which bounds what a login flood can cost together with the rate limit.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// The password rule, the one rule for every way a web account's password
// is set (the admin page and `jumpcast auditor add`, which both call
// CheckNewPassword through HashPassword): at least MinPasswordLen
// characters, at most maxPasswordLen bytes, and nothing else.
//
// Why 15: the password is the only factor guarding an account that reads
// recordings (every one, for auditors and admins), and NIST SP 800-63B
// (revision 4, 2024) asks for at least 15 characters for a password used
// on its own. Length is what makes a password hard to guess, so there are
// no composition rules (NIST advises against them too), and a few ordinary
// words are enough. Characters are Unicode code points, as NIST counts
// them. Passwords already stored are not re-checked: the rule applies when
// a password is set.
const (
	MinPasswordLen = 15
	// maxPasswordLen bounds the argon2id work one login attempt can ask for.
	maxPasswordLen = 1024
)

// CheckNewPassword returns nil when pw may be set as a password, or an
// error whose message is one line for the person choosing it.
func CheckNewPassword(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinPasswordLen {
		return fmt.Errorf("the password has %d characters; it needs at least %d (a few words make one)", n, MinPasswordLen)
	}
	if len(pw) > maxPasswordLen {
		return fmt.Errorf("the password has %d bytes; at most %d are accepted", len(pw), maxPasswordLen)
	}
	return nil
}

var b64 = base64.RawStdEncoding

// HashPassword returns an argon2id hash of pw as a PHC string
// ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash"), ready for
// store.Account.PasswordHash. A password that breaks the rule
// (CheckNewPassword) is refused with CheckNewPassword's error.
func HashPassword(pw string) (string, error) {
	if err := CheckNewPassword(pw); err != nil {
		return "", err
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	return phc(salt, argon2.IDKey([]byte(pw), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)), nil
}

// phc is the PHC string of an argon2id key made with HashPassword's
// parameters.
func phc(salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemoryKiB, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// unmatchableHash returns an argon2id PHC string with HashPassword's
// parameters, a random salt and a random key: checking any password
// against it costs what checking one against a real hash costs, and none
// matches (that would take finding an argon2id preimage). Made without
// running argon2, whose 19 MiB would otherwise stay in the process's
// memory from the start.
func unmatchableHash() (string, error) {
	salt, key := make([]byte, argonSaltLen), make([]byte, argonKeyLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("read key: %w", err)
	}
	return phc(salt, key), nil
}

// CheckPassword reports whether pw matches hash, an argon2id PHC string made
// by HashPassword or a bcrypt hash ("$2a$", "$2b$", "$2y$"). A malformed or
// empty hash never matches.
func CheckPassword(hash, pw string) bool {
	if len(pw) > maxPasswordLen {
		return false
	}
	if strings.HasPrefix(hash, "$2") {
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
	}
	p, salt, want, err := parseArgon2id(hash)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

type argonParams struct {
	memory  uint32
	time    uint32
	threads uint8
}

var errBadHash = errors.New("malformed argon2id hash")

func parseArgon2id(hash string) (argonParams, []byte, []byte, error) {
	var p argonParams
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil {
		return p, nil, nil, errBadHash
	}
	// Refuse parameters no hash of ours has, so a tampered row cannot make
	// one login cost gigabytes.
	if p.memory == 0 || p.memory > 1<<20 || p.time == 0 || p.time > 16 || p.threads == 0 {
		return p, nil, nil, errBadHash
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, errBadHash
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// apiTokenPrefix marks jumpcast API tokens so that secret scanners and
// humans recognise one.
const apiTokenPrefix = "jct_"

// NewAPIToken makes a new API token. secret is what the admin hands to a
// script (shown once); tok holds only its SHA-256 (hex) plus a fresh ID and
// the creation time. The caller fills Owner and Name and stores tok.
func NewAPIToken() (secret string, tok store.APIToken) {
	var raw [32]byte
	var id [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic(fmt.Sprintf("replayweb: crypto/rand: %v", err)) // never fails on Linux
	}
	if _, err := rand.Read(id[:]); err != nil {
		panic(fmt.Sprintf("replayweb: crypto/rand: %v", err))
	}
	secret = apiTokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	return secret, store.APIToken{
		ID:      hex.EncodeToString(id[:]),
		Hash:    TokenHash(secret),
		Created: time.Now().UTC(),
	}
}

// TokenHash is the stored form of an API token secret: hex SHA-256.
func TokenHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
