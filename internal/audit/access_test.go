package audit

import (
	"reflect"
	"testing"
	"time"
)

func TestAccessConstructors(t *testing.T) {
	who := Who{User: "alice", RemoteAddr: "192.0.2.7:5000", Target: "db1", RemoteUser: "root"}
	admin := Who{User: "carol", RemoteAddr: "192.0.2.9"}
	until := time.Date(2026, 12, 4, 14, 0, 0, 0, time.FixedZone("CET", 3600))
	for _, tt := range []struct {
		name string
		got  Event
		want Event
	}{
		{"lock made from the web", LockCreated(admin, "admin carol", Lock{ID: "3f9a", Subject: "user alice", Reason: "incident 42", Expires: until}),
			Event{Kind: KindLock, Outcome: OutcomeLocked, Who: admin, Reason: "incident 42",
				Detail: map[DetailKey]string{"lock": "3f9a", "subject": "user alice", "by": "admin carol", "expires": "2026-12-04T13:00:00Z"}}},
		{"lock lifted from the command line", LockRemoved(Who{}, "an operator on the bastion", Lock{ID: "3f9a", Subject: "target db1"}),
			Event{Kind: KindLock, Outcome: OutcomeUnlocked,
				Detail: map[DetailKey]string{"lock": "3f9a", "subject": "target db1", "by": "an operator on the bastion"}}},
		{"connection closed", ConnectionClosed(who, Closing{Reason: ReasonKeyRevoked, By: "reload", Message: "access revoked: key k is revoked", Key: "k", Sessions: 2}),
			Event{Kind: KindConnection, Outcome: OutcomeTerminated, Who: who, Reason: "key revoked",
				Detail: map[DetailKey]string{"by": "reload", "message": "access revoked: key k is revoked", "key": "k", "sessions": "2"}}},
		{"connection end requested", ConnectionEndRequested(Who{User: "bob", Target: "db1"}, "id1", "freeze"),
			Event{Kind: KindWebAdmin, Outcome: OutcomeOK, Who: Who{User: "bob", Target: "db1"}, SessionID: "id1",
				Detail: map[DetailKey]string{"action": "end_connection", "reason": "freeze"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", tt.got, tt.want)
			}
		})
	}
}
