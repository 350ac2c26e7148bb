package audit

// Events of local accounts' second factors (TOTP, recovery codes,
// passkeys): enrolment, reset, and sign-ins that needed one.

// DetailSecondFactor is the second factor a web_login or web_admin
// event is about: FactorTOTP, FactorRecovery or FactorPasskey.
const DetailSecondFactor DetailKey = "second_factor"

// Second factor methods (DetailSecondFactor).
const (
	FactorTOTP     = "totp"
	FactorRecovery = "recovery_code"
	FactorPasskey  = "passkey"
)

// Actions of web_admin events about second factors.
const (
	ActionEnrollSecondFactor Action = "enroll_second_factor"
	ActionResetSecondFactor  Action = "reset_second_factor"
	ActionRenewRecoveryCodes Action = "renew_recovery_codes"
)

// Why a second factor was refused (web_login, outcome denied).
const (
	ReasonWrongSecondFactor  Reason = "wrong second factor"
	ReasonCodeReplayed       Reason = "one-time code already used"
	ReasonTooManyFactorTries Reason = "too many second factor attempts"
)

// WebLoginWithFactor is a successful sign-in of name with its password
// and a second factor (method FactorTOTP, FactorRecovery or
// FactorPasskey): kind web_login, outcome ok.
func WebLoginWithFactor(name, method string) Event {
	return Event{Kind: KindWebLogin, Outcome: OutcomeOK, Who: Who{User: name},
		Detail: map[DetailKey]string{DetailVia: ViaPassword, DetailSecondFactor: method}}
}

// SecondFactorDenied is a sign-in of name refused at its second factor
// (the password was right): kind web_login, outcome denied, with why.
func SecondFactorDenied(name, method string, why Reason) Event {
	return Event{Kind: KindWebLogin, Outcome: OutcomeDenied, Who: Who{User: name}, Reason: why,
		Detail: map[DetailKey]string{DetailVia: ViaPassword, DetailSecondFactor: method}}
}

// SecondFactorEnrolled is a second factor (method) added by name to its
// own account: kind web_admin, outcome ok.
func SecondFactorEnrolled(name, method string) Event {
	return webAdmin(Who{User: name}, "", ActionEnrollSecondFactor, name, map[DetailKey]string{DetailSecondFactor: method})
}

// RecoveryCodesRenewed is a new set of recovery codes made by name for its
// own account (the old ones stop working): kind web_admin, outcome ok.
func RecoveryCodesRenewed(name string) Event {
	return webAdmin(Who{User: name}, "", ActionRenewRecoveryCodes, name, nil)
}

// SecondFactorReset is every second factor of account removed by by (the
// operator's `jumpcast auditor reset-mfa`): kind web_admin, outcome ok.
func SecondFactorReset(by, account string) Event {
	return webAdmin(Who{User: by}, "", ActionResetSecondFactor, account, nil)
}
