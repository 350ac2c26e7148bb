package recorder

import "time"

// Session kinds, as the index stores them.
const (
	KindShell = "shell" // an interactive shell (usually with a PTY)
	KindExec  = "exec"  // ssh host command
	KindSFTP  = "sftp"  // the subsystem named sftp (a stream that speaks SFTP is parsed as such whatever its kind)
	KindOther = "subsystem"
)

// SessionInfo describes a session channel that is about to start. The proxy
// fills it when the client's shell, exec or subsystem request arrives, just
// before it is forwarded to the target.
type SessionInfo struct {
	// ID is the server-made, time-ordered recording id; empty means the
	// recorder assigns one.
	ID             string
	User           string // bastion user
	KeyFingerprint string // SHA256 fingerprint of the key (or CA) that authenticated
	RemoteUser     string // user on the target
	TargetAlias    string // alias from the config, or "" for a raw host
	TargetAddr     string // host:port actually dialled
	ClientAddr     string // admin's address, host:port
	Kind           string // KindShell, KindExec, KindSFTP, KindOther
	Command        string // exec command or subsystem name
	PTY            bool   // a pty-req was accepted
	// RecordInput writes what the admin sends as "i" events. The proxy
	// decides it per session (recording.input and whether it has a PTY);
	// false records none. An sftp stream's file operations are recorded
	// either way.
	RecordInput   bool
	Term          string            // TERM from pty-req ("" without a PTY)
	Width, Height int               // from pty-req; 0 means 80×24
	Env           map[string]string // variables the recording keeps (see SessionEnv)
	Start         time.Time
}

// SessionEnv is the one rule for which of a session's environment
// variables a recording keeps: TERM (term, the pty-req's terminal, else
// env's TERM) and SHELL. Other variables a client sends may hold secrets.
// It returns nil when neither is set. The proxy fills SessionInfo.Env with
// it, and the recorder applies it again to whatever SessionInfo it gets.
func SessionEnv(term string, env map[string]string) map[string]string {
	out := map[string]string{}
	if term != "" {
		out["TERM"] = term
	} else if v := env["TERM"]; v != "" {
		out["TERM"] = v
	}
	if v := env["SHELL"]; v != "" {
		out["SHELL"] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
