package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// openTest opens a fresh store in t.TempDir() and closes it at cleanup.
func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "index.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// testID makes an id the way recording.NewID does, with random digits from
// rnd so that generated data is deterministic for a seed.
func testID(start time.Time, rnd *rand.Rand) string {
	return recording.TimePrefix(start) + fmt.Sprintf("-%08x", rnd.Uint32())
}

var (
	genUsers   = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "zoë"}
	genRemote  = []string{"root", "deploy", "postgres", "ubuntu", "admin"}
	genTargets = []struct{ alias, addr string }{
		{"db1", "10.0.0.1:22"}, {"db2", "10.0.0.2:22"}, {"web1", "web1:22"}, {"web2", "web2.internal:2222"},
		{"", "10.0.0.9:22"}, {"v6", "[2001:db8::1]:22"}, {"cache", "10.0.0.1:2222"}, {"", "bastion2"},
		{"mail", "10.0.0.3:22"}, {"build", "10.0.0.4:22"},
	}
	genStatus   = []recording.Status{recording.StatusFinished, recording.StatusFinished, recording.StatusFinished, recording.StatusFinished, recording.StatusFinished, recording.StatusFinished, recording.StatusFailed, recording.StatusInterrupted, recording.StatusActive}
	genCommands = []string{"", "", "", "tail -f /var/log/Syslog", "pg_dump --all", "systemctl restart nginx", "ls -la", "Élan vital check", "sudo -i"}
)

// genRecordings returns n random recordings with increasing starts from
// base (some sharing a microsecond), deterministic for a seed. Skewed
// choices make some filter values common and others rare.
func genRecordings(seed uint64, n int, base time.Time) []recording.Meta {
	next := newGen(seed, base, genSmall)
	out := make([]recording.Meta, n)
	for i := range out {
		out[i] = next()
	}
	return out
}

// genShape sets the cardinalities of generated data.
type genShape struct {
	users, targets int           // 0: the small fixed lists above
	maxGap         time.Duration // between starts
}

var (
	genSmall = genShape{maxGap: 10 * time.Minute}
	// genLarge is a busy site: 300 admins, 1000 targets, about 900
	// sessions a day (1M rows span three years).
	genLarge = genShape{users: 300, targets: 1000, maxGap: 190 * time.Second}
)

// newGen returns a generator of recordings (see genRecordings).
func newGen(seed uint64, base time.Time, shape genShape) func() recording.Meta {
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func(n int) int { // skewed: low indexes are more frequent
		a, b := rnd.IntN(n), rnd.IntN(n)
		return min(a, b)
	}
	t := base.UTC().Truncate(time.Microsecond)
	return func() recording.Meta {
		if rnd.IntN(10) != 0 { // 1 in 10 shares the previous microsecond
			t = t.Add(time.Duration(1+rnd.Int64N(int64(shape.maxGap/time.Microsecond))) * time.Microsecond)
		}
		tg := genTargets[pick(len(genTargets))]
		user := genUsers[pick(len(genUsers))]
		if shape.users > 0 {
			user = fmt.Sprintf("user%03d", pick(shape.users))
		}
		if shape.targets > 0 {
			i := pick(shape.targets)
			tg.alias, tg.addr = fmt.Sprintf("srv%04d", i), fmt.Sprintf("10.%d.%d.%d:22", i/65536, i/256%256, i%256)
		}
		cmd := genCommands[rnd.IntN(len(genCommands))]
		kind := "shell"
		if cmd != "" {
			kind = "exec"
		}
		r := recording.Meta{
			ID: testID(t, rnd), User: user, KeyFingerprint: "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8", RemoteUser: genRemote[pick(len(genRemote))],
			TargetAlias: tg.alias, TargetAddr: tg.addr, ClientAddr: "192.0.2.7:50000", Kind: kind, Command: cmd,
			Title: fmt.Sprintf("%s@%s — %s", "root", tg.alias, user), Term: "xterm-256color",
			Width: 80 + rnd.IntN(100), Height: 24 + rnd.IntN(40), Start: t,
			Status: genStatus[rnd.IntN(len(genStatus))],
		}
		r.Path = t.Format("2006/01/02/") + r.ID + ".cast"
		if r.Status != recording.StatusActive {
			r.Duration = time.Duration(rnd.IntN(200)) * time.Second // many ties
			r.End = r.Start.Add(r.Duration)
			r.BytesIn, r.BytesOut, r.FileSize = rnd.Int64N(1e4), rnd.Int64N(1e6), rnd.Int64N(1e6)
			code := rnd.IntN(3)
			r.ExitStatus = &code
			r.SHA256 = fmt.Sprintf("%016x%016x%016x%016x", rnd.Uint64(), rnd.Uint64(), rnd.Uint64(), rnd.Uint64())
		}
		return r
	}
}

// insertAll indexes rows through the public API: create, then finish the
// ones that are not active.
func insertAll(t testing.TB, s *Store, rows []recording.Meta) {
	t.Helper()
	ctx := context.Background()
	for _, r := range rows {
		c := r
		c.Status, c.End, c.Duration = "", time.Time{}, 0
		if err := s.CreateRecording(ctx, &c); err != nil {
			t.Fatal(err)
		}
		if r.Status == recording.StatusActive {
			continue
		}
		f := r
		if err := s.FinishRecording(ctx, &f); err != nil {
			t.Fatal(err)
		}
	}
}
