package replayweb

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/store"
)

// Passkeys (WebAuthn) as a local account's second factor: registered from
// the account page, asked for after the password like a TOTP code. The
// ceremonies' challenges are kept server-side (ceremonies), by login id
// for registration and by pending sign-in id for sign-in, used once. The
// browser side is assets/passkey.js (no inline script: the CSP stays
// strict).

// ceremonyTTL bounds how long a browser may take to answer a challenge
// (Server.ceremony).
const ceremonyTTL = 3 * time.Minute

// newWebAuthn configures the relying party from the site's public URL
// (Options.PublicURL): its host is the RP ID, its origin the only origin
// accepted.
func newWebAuthn(publicURL string) (*webauthn.WebAuthn, error) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("replayweb: PublicURL %q: want https://HOST[:PORT]", publicURL)
	}
	return webauthn.New(&webauthn.Config{
		RPID: u.Hostname(), RPDisplayName: "jumpcast", RPOrigins: []string{u.Scheme + "://" + u.Host},
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementDiscouraged, UserVerification: protocol.VerificationPreferred},
	})
}

// passkeyUser is an account as the WebAuthn library sees it.
type passkeyUser struct {
	name  string
	creds []webauthn.Credential
}

// WebAuthnID is a stable handle that does not spell the name.
func (u passkeyUser) WebAuthnID() []byte {
	h := sha256.Sum256([]byte("jumpcast-user\x00" + u.name))
	return h[:]
}
func (u passkeyUser) WebAuthnName() string                       { return u.name }
func (u passkeyUser) WebAuthnDisplayName() string                { return u.name }
func (u passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// userOf returns account's passkeys as the library's credentials.
func userOf(account string, f *store.SecondFactor) (passkeyUser, error) {
	u := passkeyUser{name: account}
	if f == nil {
		return u, nil
	}
	for _, p := range f.Passkeys {
		var c webauthn.Credential
		if err := json.Unmarshal(p.Credential, &c); err != nil {
			return u, fmt.Errorf("passkey %q of %s: %w", p.Name, account, err)
		}
		u.creds = append(u.creds, c)
	}
	return u, nil
}

// passkeyAccount reads account's second factor (nil when none) and its
// passkeys as the library's user.
func (s *Server) passkeyAccount(ctx context.Context, account string) (*store.SecondFactor, passkeyUser, error) {
	f, err := s.secondFactorOf(ctx, account)
	if err != nil {
		return nil, passkeyUser{}, err
	}
	u, err := userOf(account, f)
	return f, u, err
}

// passkeyRegisterBegin (POST /account/passkeys/begin) answers the options
// for navigator.credentials.create.
func (s *Server) passkeyRegisterBegin(c echo.Context) error {
	p := principalOf(c)
	if p.login.sso {
		return echo.NewHTTPError(http.StatusBadRequest, "your identity provider handles your second factor")
	}
	_, u, err := s.passkeyAccount(c.Request().Context(), p.Name)
	if err != nil {
		return err
	}
	var exclude []protocol.CredentialDescriptor
	for _, cr := range u.creds {
		exclude = append(exclude, cr.Descriptor())
	}
	opts, data, err := s.passkeys.BeginRegistration(u, webauthn.WithExclusions(exclude))
	if err != nil {
		return fmt.Errorf("begin passkey registration: %w", err)
	}
	s.ceremony.put("register\x00"+p.login.id, *data)
	return c.JSON(http.StatusOK, opts)
}

// passkeyRegisterFinish (POST /account/passkeys/finish) checks the new
// credential against the challenge and stores it.
func (s *Server) passkeyRegisterFinish(c echo.Context) error {
	p := principalOf(c)
	data, ok := s.ceremony.take("register\x00" + p.login.id)
	if !ok || p.login.sso {
		return echo.NewHTTPError(http.StatusBadRequest, "the passkey set-up expired; start again")
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(io.LimitReader(c.Request().Body, maxBody))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "the browser's answer could not be read")
	}
	ctx := c.Request().Context()
	f, u, err := s.passkeyAccount(ctx, p.Name)
	if err != nil {
		return err
	}
	cred, err := s.passkeys.CreateCredential(u, data, parsed)
	if err != nil {
		s.log.Info("passkey registration refused", "user", p.Name, "err", err, "remote_addr", c.RealIP())
		return echo.NewHTTPError(http.StatusBadRequest, "the passkey could not be verified")
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return err
	}
	if f == nil {
		f = &store.SecondFactor{Account: p.Name}
	}
	name := strings.TrimSpace(c.QueryParam("name"))
	if name == "" || len(name) > 64 {
		name = fmt.Sprintf("passkey %d", len(f.Passkeys)+1)
	}
	f.Passkeys = append(f.Passkeys, store.Passkey{ID: cred.ID, Name: name, Credential: raw, Created: s.now().UTC()})
	f.Updated = s.now().UTC()
	var codes []string
	if len(f.RecoveryHashes) == 0 {
		codes, f.RecoveryHashes = newRecoveryCodes()
	}
	if err := s.store.PutSecondFactor(ctx, *f); err != nil {
		return err
	}
	_ = s.audit(c, audit.SecondFactorEnrolled(p.Name, audit.FactorPasskey))
	s.log.Info("second factor enrolled", "user", p.Name, "second_factor", audit.FactorPasskey, "remote_addr", c.RealIP())
	s.leaveEnrolment(c, p)
	// Recovery codes made now are shown, once, by the account page the
	// browser goes to next.
	if codes != nil {
		s.freshCodes.put(p.login.id, codes)
	}
	return c.JSON(http.StatusOK, map[string]string{"next": "/account"})
}

// passkeyLoginBegin (POST /login/2fa/passkey/begin) answers the options
// for navigator.credentials.get, for a pending sign-in.
func (s *Server) passkeyLoginBegin(c echo.Context) error {
	pl, err := s.pendingForJSON(c)
	if err != nil {
		return err
	}
	_, u, err := s.passkeyAccount(c.Request().Context(), pl.user)
	if err != nil {
		return err
	}
	if len(u.creds) == 0 {
		return echo.NewHTTPError(http.StatusBadRequest, "this account has no passkey")
	}
	opts, data, err := s.passkeys.BeginLogin(u)
	if err != nil {
		return fmt.Errorf("begin passkey sign-in: %w", err)
	}
	s.ceremony.put("login\x00"+pl.id, *data)
	return c.JSON(http.StatusOK, opts)
}

// passkeyLoginFinish (POST /login/2fa/passkey/finish) checks the
// assertion and, when it holds, completes the sign-in.
func (s *Server) passkeyLoginFinish(c echo.Context) error {
	pl, err := s.pendingForJSON(c)
	if err != nil {
		return err
	}
	data, ok := s.ceremony.take("login\x00" + pl.id)
	if !ok {
		return echo.NewHTTPError(http.StatusBadRequest, "the passkey request expired; try again")
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(io.LimitReader(c.Request().Body, maxBody))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "the browser's answer could not be read")
	}
	ctx := c.Request().Context()
	f, u, err := s.passkeyAccount(ctx, pl.user)
	if err != nil {
		return err
	}
	cred, err := s.passkeys.ValidateLogin(u, data, parsed)
	if err == nil && cred.Authenticator.CloneWarning {
		err = errors.New("signature counter went backwards: the authenticator may be cloned")
	}
	if err != nil {
		s.log.Info("passkey refused", "user", pl.user, "err", err, "remote_addr", c.RealIP())
		usedUp := s.pending.failed(pl)
		why := audit.ReasonWrongSecondFactor
		if usedUp {
			why = audit.ReasonTooManyFactorTries
		}
		_ = s.audit(c, audit.SecondFactorDenied(pl.user, audit.FactorPasskey, why))
		return echo.NewHTTPError(http.StatusUnauthorized, "the passkey was not accepted")
	}
	for i := range f.Passkeys { // keep the new signature counter
		if string(f.Passkeys[i].ID) == string(cred.ID) {
			if raw, err := json.Marshal(cred); err == nil {
				f.Passkeys[i].Credential = raw
			}
		}
	}
	if err := s.store.PutSecondFactor(ctx, *f); err != nil {
		return err
	}
	next, refusal, err := s.completeSecond(c, pl, audit.FactorPasskey)
	if err != nil {
		return err
	}
	if refusal != "" {
		return echo.NewHTTPError(http.StatusUnauthorized, refusal)
	}
	return c.JSON(http.StatusOK, map[string]string{"next": next})
}

// pendingForJSON returns the request's pending sign-in, checking the
// form token the page gave it (X-CSRF-Token).
func (s *Server) pendingForJSON(c echo.Context) (*pendingLogin, error) {
	pl := s.pendingFrom(c)
	if pl == nil {
		return nil, echo.NewHTTPError(http.StatusUnauthorized, "the sign-in expired; enter your password again")
	}
	if !s.loginCSRF.valid("2fa\x00"+pl.id, c.Request().Header.Get(echo.HeaderXCSRFToken)) {
		return nil, echo.NewHTTPError(http.StatusForbidden, "the form expired; reload the page")
	}
	if ok, _ := s.limit.allow(c.RealIP()); !ok {
		return nil, echo.NewHTTPError(http.StatusTooManyRequests, "too many attempts from your address; wait a little")
	}
	return pl, nil
}
