package proxy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/recorder"
)

// targetLogin says, for the audit trail, whether the session's target
// connection logged in for it ("new") or was kept from an earlier
// connection of the same user ("reused", see reuse.go).
func targetLogin(up *upstream) string {
	if up != nil && up.wasReused() {
		return "reused"
	}
	return "new"
}

// startRecorder starts the recording. An error means the session must be
// refused (fail-closed); under fail-open a failure is audited and the
// session goes on unrecorded.
func (br *bridge) startRecorder() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sr, err := br.s.rec.Start(ctx, br.info)
	if err == nil && sr != nil {
		br.tap.set(sr)
		return nil
	}
	if err == nil {
		err = fmt.Errorf("recorder returned nothing")
	}
	br.auditRecording(err, br.failClosed)
	if br.failClosed {
		return err
	}
	return nil
}

// recordingCause words why a recording could not start for the admin:
// the low-level cause of a file error without the server's paths (the
// full error goes to the log and the audit event).
func recordingCause(err error) string {
	var pe *fs.PathError
	switch {
	case errors.Is(err, recorder.ErrLowDiskSpace):
		return "recordings disk below its free-space floor"
	case errors.As(err, &pe):
		return sanitizeLine(pe.Err.Error())
	default:
		return sanitizeLine(err.Error())
	}
}

// recordingFailed is the tap's failure hook: a recorder error mid-way.
func (br *bridge) recordingFailed(err error) {
	br.auditRecording(err, br.failClosed)
	if br.failClosed {
		br.abort(&adminError{Reason: audit.ReasonRecording, Msg: "recording failed; session ended", Err: err})
	}
}

func (br *bridge) auditRecording(err error, failClosed bool) {
	cc := br.cc
	policy := config.FailOpen
	if failClosed {
		policy = config.FailClosed
	}
	br.s.log.Error("recording failed", "session_id", br.info.ID, "user", cc.id.User,
		"target", cc.login.Target, "policy", policy, "err", err)
	br.s.auditEvent(audit.RecordingFailed(cc.who(), br.info.ID, err, policy))
}
