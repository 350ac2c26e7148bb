package audit

// The terminal in the browser. Its SSH side is an ordinary bastion
// connection: its auth, policy and session events are the usual ones,
// marked with DetailVia ViaWeb (Web). The web site adds TerminalDenied for
// a terminal it refused before any connection was made.

// ViaWeb is DetailVia of the events of a connection made from the web
// site's terminal page.
const ViaWeb = "web"

// Why a terminal in the browser was refused.
const (
	// ReasonWebTerminalNotGranted: no rule of the user grants
	// web_terminal for this target and remote user (policy events too).
	ReasonWebTerminalNotGranted Reason = "web terminal not granted"
	// ReasonLoginNotFresh: the web login had no second factor or single
	// sign-on within web.terminal.fresh_login.
	ReasonLoginNotFresh Reason = "no recent second factor"
	// ReasonNoBastionUser: the web account does not map to a bastion user.
	ReasonNoBastionUser Reason = "web account maps to no bastion user"
	// ReasonTooManyTerminals: the person has web.terminal.max_sessions
	// terminals open.
	ReasonTooManyTerminals Reason = "too many web terminals"
	// ReasonTicketInvalid: the WebSocket came with an unknown, used or
	// expired ticket, or from another origin.
	ReasonTicketInvalid Reason = "web terminal ticket invalid"
)

// Web marks e as an event of a connection made from the web site's
// terminal page (detail via: web) and returns it.
func Web(e Event) Event {
	if e.Detail == nil {
		e.Detail = map[DetailKey]string{}
	}
	e.Detail[DetailVia] = ViaWeb
	return e
}

// TerminalDenied is a terminal in the browser that the web site refused
// before connecting: kind session, outcome denied, via web. who.User is
// the web account, who.Target and who.RemoteUser what it asked for.
func TerminalDenied(who Who, reason Reason, message string) Event {
	return Web(SessionDenied(who, reason, message))
}
