package replayweb

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/store"
)

// enrolTTL is how long an offered TOTP secret waits for its confirming
// code (Server.enrolling, by login id: a secret is stored only once the
// person's app has shown a right code for it), and how long recovery
// codes made by a passkey registration wait to be shown
// (Server.freshCodes, by login id).
const enrolTTL = 10 * time.Minute

// accountBody is the account page's data.
type accountBody struct {
	SSO        bool // a single sign-on login: no local second factor
	Passkey    bool // passkeys can be registered (Options.PublicURL set)
	MustEnroll bool
	Required   bool
	TOTP       bool // TOTP enrolled
	Recovery   int  // unused recovery codes
	Passkeys   []store.Passkey
	Offer      *totpEnrolment // a TOTP secret to scan and confirm
	Codes      []string       // new recovery codes, shown this once
	Notice     string
	Error      string
}

func (s *Server) accountPage(c echo.Context) error {
	codes, _ := s.freshCodes.take(principalOf(c).login.id)
	b := accountBody{Codes: codes}
	if b.Codes != nil {
		b.Notice = "Your passkey is set up: sign-ins now ask for it."
	}
	return s.renderAccount(c, http.StatusOK, b)
}

func (s *Server) renderAccount(c echo.Context, status int, b accountBody) error {
	p := principalOf(c)
	b.SSO, b.MustEnroll, b.Required, b.Passkey = p.login.sso, p.login.mustEnroll, s.o.RequireSecondFactor, s.passkeys != nil
	if !b.SSO {
		f, err := s.secondFactorOf(c.Request().Context(), p.Name)
		if err != nil {
			return err
		}
		if f != nil {
			b.TOTP, b.Recovery, b.Passkeys = f.TOTPSecret != "", len(f.RecoveryHashes), f.Passkeys
		}
	}
	return s.render(c, status, "account", pageData{Title: "Your account", Nav: "account", Body: b})
}

// accountTOTPBegin offers a new TOTP secret (POST /account/totp).
func (s *Server) accountTOTPBegin(c echo.Context) error {
	p := principalOf(c)
	if p.login.sso {
		return echo.NewHTTPError(http.StatusBadRequest, "your identity provider handles your second factor")
	}
	offer, err := newTOTP(p.Name)
	if err != nil {
		return err
	}
	s.enrolling.put(p.login.id, offer.Secret)
	return s.renderAccount(c, http.StatusOK, accountBody{Offer: &offer})
}

// accountTOTPConfirm stores the offered secret once a code of it is right
// (POST /account/totp/confirm), with fresh recovery codes when the account
// has none, shown this once.
func (s *Server) accountTOTPConfirm(c echo.Context) error {
	p := principalOf(c)
	if p.login.sso {
		return echo.NewHTTPError(http.StatusBadRequest, "your identity provider handles your second factor")
	}
	secret, ok := s.enrolling.take(p.login.id)
	if !ok {
		return s.renderAccount(c, http.StatusBadRequest, accountBody{Error: "The set-up expired. Please start again."})
	}
	step, ok := totpStep(secret, c.FormValue("code"), s.now())
	if !ok {
		s.enrolling.put(p.login.id, secret) // let them try again with the same secret
		offer := totpEnrolmentOf(p.Name, secret)
		return s.renderAccount(c, http.StatusBadRequest, accountBody{Offer: &offer,
			Error: "That code is not right. Check the time on your phone and type the code your app shows now."})
	}
	ctx := c.Request().Context()
	f, err := s.secondFactorOf(ctx, p.Name)
	if err != nil {
		return err
	}
	if f == nil {
		f = &store.SecondFactor{Account: p.Name}
	}
	f.TOTPSecret, f.TOTPLastStep, f.Updated = secret, step, s.now().UTC()
	var codes []string
	if len(f.RecoveryHashes) == 0 {
		codes, f.RecoveryHashes = newRecoveryCodes()
	}
	if err := s.store.PutSecondFactor(ctx, *f); err != nil {
		return err
	}
	_ = s.audit(c, audit.SecondFactorEnrolled(p.Name, audit.FactorTOTP))
	s.log.Info("second factor enrolled", "user", p.Name, "second_factor", audit.FactorTOTP, "remote_addr", c.RealIP())
	s.leaveEnrolment(c, p)
	return s.renderAccount(c, http.StatusOK, accountBody{Codes: codes, Notice: "Your authenticator app is set up: sign-ins now ask for its code."})
}

// leaveEnrolment lifts a must-enrol login's confinement once it has a
// second factor: it goes on under a new id.
func (s *Server) leaveEnrolment(c echo.Context, p *principal) {
	if !p.login.mustEnroll {
		return
	}
	p.login = s.logins.enrolled(p.login)
	s.setCookie(c, s.webLoginCookieName(), p.login.id, int(p.login.expires.Sub(s.now())/time.Second))
}

// accountRecovery replaces the recovery codes (POST /account/recovery).
func (s *Server) accountRecovery(c echo.Context) error {
	p := principalOf(c)
	ctx := c.Request().Context()
	f, err := s.store.GetSecondFactor(ctx, p.Name)
	if errors.Is(err, store.ErrNotFound) || err == nil && !f.Enrolled() {
		return s.renderAccount(c, http.StatusBadRequest, accountBody{Error: "Set up an authenticator app or a passkey first."})
	}
	if err != nil {
		return err
	}
	var codes []string
	codes, f.RecoveryHashes = newRecoveryCodes()
	f.Updated = s.now().UTC()
	if err := s.store.PutSecondFactor(ctx, *f); err != nil {
		return err
	}
	_ = s.audit(c, audit.RecoveryCodesRenewed(p.Name))
	return s.renderAccount(c, http.StatusOK, accountBody{Codes: codes, Notice: "New recovery codes; the old ones no longer work."})
}
