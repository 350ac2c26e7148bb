// Package storetest is the contract suite of store.Index: one set of
// tests that every index backend passes (the bbolt file of package store
// and store/postgres), so that a behaviour documented on store.Store's
// methods is the behaviour of either. Each backend's tests call Run with a
// function that opens a fresh, empty index.
package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

// Opener returns a fresh, empty index for t, closed at t's cleanup.
type Opener func(t *testing.T) store.Index

// Run runs every contract test against the backend open makes.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Index)
	}{
		{"RecordingLifecycle", testRecordingLifecycle},
		{"ListRecordings", testListRecordings},
		{"ListRecordingsInvalid", testListInvalid},
		{"RecoverActive", testRecoverActive},
		{"PurgeCandidates", testPurgeCandidates},
		{"Accounts", testAccounts},
		{"Tokens", testTokens},
		{"SecondFactors", testSecondFactors},
		{"Audit", testAudit},
		{"Locks", testLocks},
		{"HostKeyPins", testHostKeyPins},
		{"Nodes", testNodes},
		{"SilentNode", testSilentNode},
		{"Location", testLocation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// Generate returns n recordings with increasing starts from base (one in
// ten shares the previous microsecond), deterministic for a seed, with
// skewed users, targets, statuses and durations (many ties), as a busy
// bastion's index looks. users and targets set how many distinct values
// there are (at least 1).
func Generate(seed uint64, n int, base time.Time, users, targets int) []recording.Meta {
	next := Generator(seed, base, users, targets, 10*time.Minute)
	out := make([]recording.Meta, n)
	for i := range out {
		out[i] = next()
	}
	return out
}

// Generator returns a function yielding the recordings Generate would,
// one at a time, maxGap apart at most.
func Generator(seed uint64, base time.Time, users, targets int, maxGap time.Duration) func() recording.Meta {
	rnd := rand.New(rand.NewPCG(seed, ^seed))
	skewed := func(n int) int { return min(rnd.IntN(n), rnd.IntN(n)) }
	statuses := []recording.Status{recording.StatusFinished, recording.StatusFinished, recording.StatusFinished,
		recording.StatusFinished, recording.StatusFailed, recording.StatusInterrupted, recording.StatusActive}
	commands := []string{"", "", "tail -f /var/log/Syslog", "pg_dump --all", "ls -la", "Élan vital check"}
	t := base.UTC().Truncate(time.Microsecond)
	return func() recording.Meta {
		if rnd.IntN(10) != 0 {
			t = t.Add(time.Duration(1+rnd.Int64N(int64(maxGap/time.Microsecond))) * time.Microsecond)
		}
		u, tg := skewed(users), skewed(targets)
		alias := fmt.Sprintf("srv%04d", tg)
		if tg%5 == 4 {
			alias = "" // a host named directly
		}
		cmd := commands[rnd.IntN(len(commands))]
		r := recording.Meta{
			ID: recording.TimePrefix(t) + fmt.Sprintf("-%08x", rnd.Uint32()), User: fmt.Sprintf("user%03d", u),
			KeyFingerprint: "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8",
			RemoteUser:     []string{"root", "deploy", "postgres"}[skewed(3)],
			TargetAlias:    alias, TargetAddr: fmt.Sprintf("10.0.%d.%d:22", tg/256, tg%256), ClientAddr: "192.0.2.7:50000",
			Kind: "shell", Command: cmd, Title: fmt.Sprintf("root@%s — user%03d", alias, u), Term: "xterm-256color",
			Width: 80 + rnd.IntN(100), Height: 24 + rnd.IntN(40), Start: t, Status: statuses[rnd.IntN(len(statuses))],
		}
		if cmd != "" {
			r.Kind = "exec"
		}
		r.Path, _ = recording.RelPath(r.ID)
		if r.Status != recording.StatusActive {
			r.Duration = time.Duration(rnd.IntN(200)) * time.Second
			r.End = r.Start.Add(r.Duration)
			r.BytesIn, r.BytesOut, r.FileSize = rnd.Int64N(1e4), rnd.Int64N(1e6), 1+rnd.Int64N(1e6)
			code := rnd.IntN(3)
			r.ExitStatus = &code
			r.SHA256 = fmt.Sprintf("%016x%016x%016x%016x", rnd.Uint64(), rnd.Uint64(), rnd.Uint64(), rnd.Uint64())
		}
		return r
	}
}

// Insert indexes rows the way the recorder does: created when the session
// starts, finished when it ends (active rows stay active).
func Insert(t testing.TB, ix store.Index, rows []recording.Meta) {
	t.Helper()
	ctx := context.Background()
	for _, r := range rows {
		c := r
		c.Status, c.End, c.Duration, c.FileSize, c.SHA256, c.ExitStatus = "", time.Time{}, 0, 0, "", nil
		c.BytesIn, c.BytesOut = 0, 0
		if err := ix.CreateRecording(ctx, &c); err != nil {
			t.Fatal(err)
		}
		if r.Status == recording.StatusActive {
			continue
		}
		f := r
		if err := ix.FinishRecording(ctx, &f); err != nil {
			t.Fatal(err)
		}
	}
}
