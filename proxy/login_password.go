package proxy

import (
	"errors"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// The target's password, asked during the admin's own login.
//
// A target that takes only passwords cannot be reached with what the
// bastion holds. Asking inside the session works only for clients that
// show a session's stderr before its start request is answered (OpenSSH,
// dbclient): paramiko, asyncssh and plink wait for the reply, sshpass
// watches the terminal for a prompt that is not there, and a session
// without a terminal has nowhere to type. So the bastion connects to the
// target while the admin logs in, right after the admin's key is
// verified. When the target asks for a password, the bastion answers the
// admin's key with partial success (RFC 4252 5.1): the admin's client is
// then asked keyboard-interactive (or password) as the second step of its
// own login — which every SSH client can answer — with the target's
// prompt, and each answer goes to the target's prompt and nowhere else.
//
// The target's prompts are left to the session (in-session relay, with a
// terminal) in one case: the grant allows agent authentication and the
// target offers public keys, because the admin's forwarded agent, which
// may do, exists only after login. A connection made at login that
// failed (unreachable, host key) is reported by the first channel that
// needs it, as a connection made then would be.

// errAskLater ends the login's attempt when its prompt is left to the
// session.
var errAskLater = errors.New("the target's prompt is left to the session")

// loginPromptTimeout bounds how long the bastion waits for the admin to
// answer a target's prompt during login, as OpenSSH's LoginGraceTime.
const loginPromptTimeout = 2 * time.Minute

// question is one target prompt waiting for the admin's answer.
type question struct {
	prompt string
	echo   bool
	said   []string    // lines to show before it (name, instruction, a retry)
	answer chan string // buffered; closed when the admin gave no answer
}

// loginAsker is the asker of the connection made at login: ask hands the
// question to the admin's next authentication attempt and waits for its
// answer.
type loginAsker struct {
	questions chan *question  // to the authentication callbacks
	gone      <-chan struct{} // the admin's connection closed

	mu    sync.Mutex
	said  []string
	asked map[string]int // how often each prompt was asked: a repeat means the last answer was refused
}

func (a *loginAsker) say(line string) error {
	a.mu.Lock()
	a.said = append(a.said, line)
	a.mu.Unlock()
	return nil
}

func (a *loginAsker) ask(prompt string, echo bool) (string, error) {
	a.mu.Lock()
	said := a.said
	a.said = nil
	if a.asked[prompt] > 0 {
		said = append([]string{"Permission denied, please try again."}, said...)
	}
	a.asked[prompt]++
	a.mu.Unlock()
	q := &question{prompt: prompt, echo: echo, said: said, answer: make(chan string, 1)}
	timer := time.NewTimer(loginPromptTimeout)
	defer timer.Stop()
	select {
	case a.questions <- q:
	case <-a.gone:
		return "", errPromptAborted
	case <-timer.C:
		return "", errPromptAborted
	}
	select {
	case text, ok := <-q.answer:
		if !ok {
			return "", errPromptAborted
		}
		return text, nil
	case <-a.gone:
		return "", errPromptAborted
	case <-timer.C:
		return "", errPromptAborted
	}
}

// loginConnect is one connection to the target made during the admin's
// login. Its callbacks run in the admin's handshake goroutine, one at a
// time; the connection itself runs in its own goroutine.
type loginConnect struct {
	cc      *clientConn
	perms   *gossh.Permissions // what the admin's login grants once done
	asker   *loginAsker
	result  chan error // the connection's outcome, once
	pending *question  // the target's prompt the admin is to answer next
	failed  error      // the target refused: every later attempt fails
}

// connectAtLogin starts the connection to the target of an admin whose
// key was just verified, and waits until it is made, has failed, or the
// target asks for something. The error is a *gossh.PartialSuccessError
// when the admin's client must answer the target's prompt to log in.
func (cc *clientConn) connectAtLogin(perms *gossh.Permissions) error {
	if cc.loginErr != nil || !cc.login.HasTarget || !cc.s.snap.Load().cfg.Upstream.PasswordAuth ||
		cc.refusal() != nil {
		return nil
	}
	d := cc.decide()
	if !d.Allowed {
		return nil // refused on the first channel, as always
	}
	lc := &loginConnect{cc: cc, perms: perms, result: make(chan error, 1),
		asker: &loginAsker{questions: make(chan *question), gone: cc.ctx.Done(), asked: map[string]int{}}}
	go func() { // owner: the admin connection's login; ends when the target connection is made or has failed
		_, err := cc.connectUpstream(cc.ctx, d, lc.asker, true)
		lc.result <- err
	}()
	select {
	case err := <-lc.result:
		lc.keep(err)
		return nil
	case q := <-lc.asker.questions:
		lc.pending = q
		return &gossh.PartialSuccessError{Next: gossh.ServerAuthCallbacks{
			KeyboardInteractiveCallback: lc.keyboardInteractive,
			PasswordCallback:            lc.password,
		}}
	}
}

// keep remembers a failed connection for the first channel that needs
// the target (errAskLater is not a failure: that channel connects).
func (lc *loginConnect) keep(err error) {
	if err != nil && !errors.Is(err, errAskLater) {
		lc.cc.mu.Lock()
		lc.cc.upErr = err
		lc.cc.mu.Unlock()
	}
}

// keyboardInteractive asks the admin the target's prompts, one round
// each, until the target lets the bastion in or refuses.
func (lc *loginConnect) keyboardInteractive(_ gossh.ConnMetadata, client gossh.KeyboardInteractiveChallenge) (*gossh.Permissions, error) {
	for {
		q := lc.pending
		if q == nil {
			return nil, lc.refused()
		}
		lc.pending = nil
		answers, err := client("", strings.Join(q.said, "\n"), []string{q.prompt}, []bool{q.echo})
		if err != nil || len(answers) != 1 {
			close(q.answer)
			lc.outcome()
			if err == nil {
				err = errors.New("ssh: no answer to the target's prompt")
			}
			return nil, err
		}
		q.answer <- answers[0]
		if lc.next() {
			continue
		}
		return lc.outcome()
	}
}

// password passes a client's "password" attempt (paramiko and others
// send the password they were given as the second step) to the target's
// prompt. When the target asks again, this attempt failed and the next
// one answers it.
func (lc *loginConnect) password(_ gossh.ConnMetadata, pw []byte) (*gossh.Permissions, error) {
	q := lc.pending
	if q == nil {
		return nil, lc.refused()
	}
	lc.pending = nil
	q.answer <- string(pw)
	if lc.next() {
		return nil, errors.New("ssh: the target asks again")
	}
	return lc.outcome()
}

// next waits for what the target does with an answer: true when it asks
// again (lc.pending is then its question), false when the connection
// ended either way (its result is waiting).
func (lc *loginConnect) next() bool {
	select {
	case q := <-lc.asker.questions:
		lc.pending = q
		return true
	case err := <-lc.result:
		lc.result <- err // for outcome
		return false
	}
}

// outcome waits for the connection's end and turns it into the admin's
// login: in on success, refused with the target's refusal as a banner
// line otherwise.
func (lc *loginConnect) outcome() (*gossh.Permissions, error) {
	err := <-lc.result
	if err == nil {
		return lc.perms, nil
	}
	lc.failed = err
	var ae *adminError
	if !errors.As(err, &ae) {
		return nil, err
	}
	return nil, &gossh.BannerError{Err: err, Message: ae.line() + "\n"}
}

// refused is every attempt after the target refused.
func (lc *loginConnect) refused() error {
	if lc.failed != nil {
		return lc.failed
	}
	return errors.New("ssh: no target prompt to answer")
}

// takeLoginErr returns, once, why the connection made at login failed.
func (cc *clientConn) takeLoginErr() error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	err := cc.upErr
	cc.upErr = nil
	return err
}
