package lock

import (
	"strings"
	"testing"
	"time"
)

func TestMatches(t *testing.T) {
	conn := Subject{User: "alice", Keys: []string{"SHA256:key", "SHA256:ca"}, Targets: []string{"db1", "web2"}}
	tests := []struct {
		name   string
		target Target
		want   bool
	}{
		{"the user", Target{User: "alice"}, true},
		{"another user", Target{User: "bob"}, false},
		{"the key", Target{Key: "SHA256:key"}, true},
		{"the certificate's CA", Target{Key: "SHA256:ca"}, true},
		{"another key", Target{Key: "SHA256:other"}, false},
		{"the login's target", Target{Target: "db1"}, true},
		{"a forward's destination", Target{Target: "web2"}, true},
		{"another target", Target{Target: "db2"}, false},
		{"nothing named", Target{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Lock{Target: tt.target}).Matches(conn); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSetFirstSkipsExpiredLocks(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	set := NewSet([]Lock{
		{ID: "old", Target: Target{User: "alice"}, Expires: now.Add(-time.Second)},
		{ID: "ends-now", Target: Target{User: "alice"}, Expires: now},
		{ID: "later", Target: Target{User: "alice"}, Expires: now.Add(2 * time.Hour)},
	})
	if l := set.First(now, Subject{User: "alice"}); l == nil || l.ID != "later" {
		t.Errorf("First = %+v, want the lock that has not expired", l)
	}
	if l := set.First(now.Add(3*time.Hour), Subject{User: "alice"}); l != nil {
		t.Errorf("after every expiry, First = %+v", l)
	}
	var none *Set
	if l := none.First(now, Subject{User: "alice"}); l != nil {
		t.Errorf("nil set: %+v", l)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		l    Lock
		err  string // "" for valid
	}{
		{"user", Lock{Target: Target{User: "alice"}, Reason: "incident 42"}, ""},
		{"key", Lock{Target: Target{Key: "SHA256:abc"}}, ""},
		{"target", Lock{Target: Target{Target: "db1"}}, ""},
		{"none", Lock{}, "exactly one"},
		{"two", Lock{Target: Target{User: "alice", Target: "db1"}}, "exactly one"},
		{"key not a fingerprint", Lock{Target: Target{Key: "ssh-ed25519 AAAA"}}, "spaces"},
		{"key in MD5", Lock{Target: Target{Key: "MD5:ab:cd"}}, "SHA256"},
		{"escape in the reason", Lock{Target: Target{User: "alice"}, Reason: "\x1b]52;c;Y3VybA==\a"}, "control"},
		{"newline in the target", Lock{Target: Target{User: "alice\nbob"}}, "control"},
		{"long reason", Lock{Target: Target{User: "alice"}, Reason: strings.Repeat("x", MaxReason+1)}, "longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.l.Validate()
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("Validate = %v, want an error with %q", err, tt.err)
			}
		})
	}
}

func TestMessage(t *testing.T) {
	l := Lock{Target: Target{User: "alice"}, Reason: "incident 42"}
	if got, want := l.Message(), "access locked (user alice): incident 42"; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
	l.Reason = ""
	if got, want := l.Message(), "access locked (user alice)"; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
	if a, b := NewID(), NewID(); len(a) != 16 || a == b {
		t.Errorf("NewID: %q, %q", a, b)
	}
}
