package replayweb

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"image/png"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP as authenticator apps expect it (RFC 6238 with the defaults every
// app supports): SHA-1, 6 digits, 30-second steps. A code of the current
// step or one step either side (clock drift) is accepted, once: the store
// keeps the last accepted step (store.UseTOTPStep).
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	// recoveryCodes is how many recovery codes an account gets; each is
	// 10 base32 characters (50 bits), shown once, stored as its SHA-256.
	recoveryCodes = 10
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}

// totpStep returns the time step whose code is code, looking at the
// step of now and one either side; false when none matches.
func totpStep(secret, code string, now time.Time) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != int(totpDigits) || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	for _, d := range []int64{0, -1, 1} {
		want, err := totp.GenerateCodeCustom(secret, now.Add(time.Duration(d*totpPeriod)*time.Second), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return now.Unix()/totpPeriod + d, true
		}
	}
	return 0, false
}

// totpEnrolment is a new TOTP secret as the account page offers it: the
// otpauth:// URI and a QR code of it (a PNG data URI) for the app to scan.
type totpEnrolment struct {
	Secret string
	URI    string
	QR     template.URL
}

func newTOTP(account string) (totpEnrolment, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "jumpcast", AccountName: account, Period: totpPeriod,
		Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, SecretSize: 20})
	if err != nil {
		return totpEnrolment{}, fmt.Errorf("generate TOTP secret: %w", err)
	}
	return totpEnrolmentOf(account, key.Secret()), nil
}

// newRecoveryCodes returns fresh recovery codes, as shown to the person
// ("abcde-fghij"), and their hashes, as stored.
func newRecoveryCodes() (codes, hashes []string) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	for range recoveryCodes {
		var b [10]byte
		if _, err := rand.Read(b[:]); err != nil {
			panic(fmt.Sprintf("replayweb: crypto/rand: %v", err)) // never fails on Linux
		}
		for i := range b {
			b[i] = alphabet[b[i]&31]
		}
		code := string(b[:5]) + "-" + string(b[5:])
		codes = append(codes, code)
		hashes = append(hashes, recoveryHash(code))
	}
	return codes, hashes
}

// recoveryHash is the stored form of a recovery code: hex SHA-256 of the
// code lower-cased without dashes and spaces, so that "ABCDE FGHIJ" is
// "abcde-fghij".
func recoveryHash(code string) string {
	norm := strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(code)))
	if norm == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("jumpcast-recovery\x00" + norm))
	return hex.EncodeToString(sum[:])
}

// totpEnrolmentOf is the offer of secret for account: the otpauth:// URI
// and its QR code. A data: image made here, from our own PNG bytes (the
// CSP admits img-src data:).
func totpEnrolmentOf(account, secret string) totpEnrolment {
	key, err := otp.NewKeyFromURL((&url.URL{Scheme: "otpauth", Host: "totp", Path: "/jumpcast:" + account,
		RawQuery: url.Values{"secret": {secret}, "issuer": {"jumpcast"}, "period": {"30"}, "digits": {"6"}, "algorithm": {"SHA1"}}.Encode()}).String())
	if err != nil {
		return totpEnrolment{Secret: secret}
	}
	out := totpEnrolment{Secret: secret, URI: key.URL()}
	if img, err := key.Image(200, 200); err == nil {
		var buf bytes.Buffer
		if png.Encode(&buf, img) == nil {
			out.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
		}
	}
	return out
}
