package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// errPromptAborted is returned when the admin ends a prompt with Ctrl-C or
// Ctrl-D.
var errPromptAborted = errors.New("prompt aborted")

// maxSecret bounds a relayed password, in bytes.
const maxSecret = 1024

// asker asks the admin the target's prompts: in the admin's session
// (prompter) or during the admin's own login (loginAsker). Nothing it is
// given or answers is logged or recorded.
type asker interface {
	// ask shows prompt and returns the admin's answer; echo says whether
	// the answer may be shown as it is typed.
	ask(prompt string, echo bool) (string, error)
	// say shows one line of the target's (a keyboard-interactive name or
	// instruction), already sanitized.
	say(line string) error
}

// prompter relays password and keyboard-interactive prompts to the
// admin's terminal. It exists only when the admin's session has a PTY: the
// client's terminal is then in raw mode, so the prompter echoes nothing
// and handles line editing itself.
type prompter struct {
	out io.Writer     // the admin channel's stderr
	in  *bufio.Reader // the admin channel's stdin, shared with the session's stdin copier
}

func (p *prompter) say(line string) error {
	_, err := io.WriteString(p.out, termLine(line, true))
	return err
}

// ask writes prompt and reads one line. With echo false nothing is echoed;
// with echo true the typed characters are echoed.
func (p *prompter) ask(prompt string, echo bool) (string, error) {
	if _, err := io.WriteString(p.out, prompt); err != nil {
		return "", err
	}
	var line []byte
	for {
		b, err := p.in.ReadByte()
		if err != nil {
			return "", err
		}
		switch b {
		case '\r', '\n':
			_, _ = io.WriteString(p.out, "\r\n")
			return string(line), nil
		case 0x03, 0x04: // Ctrl-C, Ctrl-D
			_, _ = io.WriteString(p.out, "\r\n")
			return "", errPromptAborted
		case 0x7f, 0x08: // backspace: drop the last rune
			if len(line) > 0 {
				_, size := utf8.DecodeLastRune(line)
				line = line[:len(line)-size]
				if echo {
					_, _ = io.WriteString(p.out, "\b \b")
				}
			}
		case 0x15: // Ctrl-U: kill the line
			line = line[:0]
		default:
			if b < 0x20 || len(line) >= maxSecret {
				continue
			}
			line = append(line, b)
			if echo {
				_, _ = p.out.Write([]byte{b})
			}
		}
	}
}

// authPlan is the upstream authentication for one connection, in order:
// the admin's forwarded agent, bastion-held keys, then (with a prompter)
// keyboard-interactive and password prompts. It records which methods
// were tried, for the refusal message. mu guards tried.
type authPlan struct {
	user     string                                      // remote user, for prompts
	host     string                                      // target label, for prompts
	agent    func() (agent.ExtendedAgent, func(), error) // opens the admin's agent; nil when not allowed or not forwarded
	signers  []gossh.Signer                              // target identity files, then global identities
	prompt   asker                                       // nil: no prompts (no PTY, or password_auth off)
	password bool                                        // upstream.password_auth
	// pause and resume lift and restore the upstream handshake deadline
	// while the admin types (set by connectTarget).
	pause, resume func()
	// keysOffered: the target offered publickey authentication (x/crypto
	// calls publicKeys only then).
	keysOffered bool
	// laterIfKeys: a prompt from a target that offered public keys is not
	// asked now (errAskLater): the admin's agent, not there yet, may do.
	laterIfKeys bool
	// answered: the admin answered a prompt, so the target's hanging up
	// after it (sshd at MaxAuthTries) is a refusal, not a network fault.
	answered bool

	mu        sync.Mutex
	tried     []string
	closeAgnt func()
}

func (p *authPlan) note(method string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !slices.Contains(p.tried, method) {
		p.tried = append(p.tried, method)
	}
}

// triedMethods returns the methods tried so far, e.g. "agent, publickey".
func (p *authPlan) triedMethods() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tried) == 0 {
		return "none"
	}
	return strings.Join(p.tried, ", ")
}

// close releases the agent channel, if one was opened.
func (p *authPlan) close() {
	p.mu.Lock()
	c := p.closeAgnt
	p.closeAgnt = nil
	p.mu.Unlock()
	if c != nil {
		c()
	}
}

// methods returns the x/crypto auth methods. All keys go into one
// publickey method because x/crypto tries each method name only once.
func (p *authPlan) methods() []gossh.AuthMethod {
	var out []gossh.AuthMethod
	out = append(out, gossh.PublicKeysCallback(p.publicKeys))
	if p.prompt != nil && p.password {
		out = append(out,
			gossh.RetryableAuthMethod(gossh.KeyboardInteractive(p.keyboardInteractive), 3),
			gossh.RetryableAuthMethod(gossh.PasswordCallback(p.askPassword), 3))
	}
	return out
}

// publicKeys returns the agent's keys followed by the bastion's.
func (p *authPlan) publicKeys() ([]gossh.Signer, error) {
	p.mu.Lock()
	p.keysOffered = true
	p.mu.Unlock()
	var out []gossh.Signer
	if p.agent != nil {
		ag, closeFn, err := p.agent()
		if err == nil {
			p.mu.Lock()
			p.closeAgnt = closeFn
			p.mu.Unlock()
			if signers, err := ag.Signers(); err == nil && len(signers) > 0 {
				p.note("agent")
				out = append(out, signers...)
			}
		}
	}
	if len(p.signers) > 0 {
		p.note("publickey")
		out = append(out, p.signers...)
	}
	return out, nil
}

// ask asks the admin with the handshake deadline lifted.
func (p *authPlan) ask(prompt string, echo bool) (string, error) {
	if p.laterIfKeys && p.targetOffersKeys() {
		return "", errAskLater
	}
	if p.pause != nil {
		p.pause()
		defer p.resume()
	}
	a, err := p.prompt.ask(prompt, echo)
	if err == nil {
		p.mu.Lock()
		p.answered = true
		p.mu.Unlock()
	}
	return a, err
}

// gotAnswers tells whether the admin answered a prompt of the target.
func (p *authPlan) gotAnswers() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.answered
}

// targetOffersKeys tells whether the target offered publickey
// authentication during the handshake so far.
func (p *authPlan) targetOffersKeys() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keysOffered
}

func (p *authPlan) askPassword() (string, error) {
	p.note("password")
	return p.ask(fmt.Sprintf("%s@%s's password: ", p.user, p.host), false)
}

func (p *authPlan) keyboardInteractive(name, instruction string, questions []string, echos []bool) ([]string, error) {
	if len(questions) == 0 {
		return nil, nil // an informational round
	}
	p.note("keyboard-interactive")
	for _, s := range []string{name, instruction} {
		if s = strings.TrimSpace(s); s != "" {
			if err := p.prompt.say(sanitizeLine(s)); err != nil {
				return nil, err
			}
		}
	}
	answers := make([]string, len(questions))
	for i, q := range questions {
		prompt := sanitizeLine(q)
		if i == 0 {
			prompt = fmt.Sprintf("(%s@%s) %s", p.user, p.host, prompt)
		}
		a, err := p.ask(prompt, echos[i])
		if err != nil {
			return nil, err
		}
		answers[i] = a
	}
	return answers, nil
}
