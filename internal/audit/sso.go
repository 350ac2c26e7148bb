package audit

import "strings"

// Events of single sign-on (OpenID Connect) at the web site: each SSO
// login, each refusal and each role-mapping decision is one event. The web
// site sets Who.RemoteAddr itself when it stores them.

// ViaOIDC and ViaPassword are DetailVia of web_login events: how the
// person signed in.
const (
	ViaOIDC     = "oidc"
	ViaPassword = "password"
)

// Why an SSO sign-in was refused (Event.Reason of web_login and
// sso_mapping events with outcome denied).
const (
	ReasonSSOBadState      Reason = "sign-in state missing, expired or not this browser's"
	ReasonSSOProvider      Reason = "identity provider returned an error"
	ReasonSSOUnreachable   Reason = "identity provider unreachable"
	ReasonSSOCodeRejected  Reason = "authorization code rejected"
	ReasonSSOBadToken      Reason = "ID token invalid"
	ReasonSSOBadNonce      Reason = "ID token nonce mismatch"
	ReasonSSONoUserClaim   Reason = "no usable user claim"
	ReasonSSONoRole        Reason = "no group maps to a role"
	ReasonSSOGroupMapped   Reason = "group maps to a role"
	ReasonPasswordLoginOff Reason = "password sign-in switched off"
)

// maxGroupsDetail bounds how much of a person's group list an event keeps.
const maxGroupsDetail = 1024

// SSOLoginOK is a successful SSO sign-in of name (the user claim) with
// role: kind web_login, outcome ok, via oidc; subject is the provider's
// "sub".
func SSOLoginOK(name, role, subject string) Event {
	return Event{Kind: KindWebLogin, Outcome: OutcomeOK, Who: Who{User: name},
		Detail: map[DetailKey]string{DetailVia: ViaOIDC, DetailRole: role, DetailSSOSubject: subject}}
}

// SSOLoginDenied is a refused SSO sign-in: kind web_login, outcome
// denied, via oidc, with why. name and subject are "" when the refusal
// came before the ID token was checked; detail, when not "", is the
// operator's one-line account of what went wrong (never a token).
func SSOLoginDenied(name, subject string, why Reason, detail string) Event {
	d := map[DetailKey]string{DetailVia: ViaOIDC}
	if subject != "" {
		d[DetailSSOSubject] = subject
	}
	if detail != "" {
		d[DetailWhy] = detail
	}
	return Event{Kind: KindWebLogin, Outcome: OutcomeDenied, Who: Who{User: name}, Reason: why, Detail: d}
}

// SSORoleMapped is the decision on the role of an SSO sign-in: kind
// sso_mapping, outcome allowed with role and the group that gave it
// (reason ReasonSSOGroupMapped), or denied when no group of groups maps
// to a role (reason ReasonSSONoRole, role and group "").
func SSORoleMapped(name, subject string, groups []string, group, role string) Event {
	g := strings.Join(groups, ",")
	if len(g) > maxGroupsDetail {
		g = g[:maxGroupsDetail]
	}
	d := map[DetailKey]string{DetailGroups: g, DetailSSOSubject: subject}
	if role == "" {
		return Event{Kind: KindSSOMapping, Outcome: OutcomeDenied, Who: Who{User: name}, Reason: ReasonSSONoRole, Detail: d}
	}
	d[DetailRole], d[DetailGroup] = role, group
	return Event{Kind: KindSSOMapping, Outcome: OutcomeAllowed, Who: Who{User: name}, Reason: ReasonSSOGroupMapped, Detail: d}
}

// PasswordLoginOff is a correct password of name refused because password
// sign-in is switched off and name is not a break-glass account: kind
// web_login, outcome denied, via password.
func PasswordLoginOff(name string) Event {
	return Event{Kind: KindWebLogin, Outcome: OutcomeDenied, Who: Who{User: name}, Reason: ReasonPasswordLoginOff,
		Detail: map[DetailKey]string{DetailVia: ViaPassword}}
}
