package recording

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNewID(t *testing.T) {
	start := time.Date(2026, 11, 24, 9, 30, 12, 345678901, time.FixedZone("CET", 3600))
	id := NewID(start)
	if !ValidID(id) || !strings.HasPrefix(id, "20261124T083012.345678Z-") || !strings.HasPrefix(id, TimePrefix(start)) {
		t.Fatalf("NewID = %q", id)
	}
	if other := NewID(start); other == id {
		t.Errorf("two ids for the same time are equal: %q", id)
	}
	got, err := IDTime(id)
	if err != nil || !got.Equal(start.Truncate(time.Microsecond)) || got.Location() != time.UTC {
		t.Errorf("IDTime = %v, %v; want %v in UTC", got, err, start.Truncate(time.Microsecond))
	}
	rel, err := RelPath(id)
	if err != nil || rel != "2026/11/24/"+id+".cast" {
		t.Errorf("RelPath = %q, %v", rel, err)
	}
}

func TestValidID(t *testing.T) {
	const good = "20261124T093012.345678Z-3f9a1c2b"
	for _, tc := range []struct {
		name, id string
		valid    bool
	}{
		{"made by NewID", good, true},
		{"all hex letters", "20261124T093012.345678Z-abcdef09", true},
		{"date that does not exist", "20261399T253012.345678Z-3f9a1c2b", true}, // shape only: IDTime refuses it
		{"empty", "", false},
		{"one short", good[:IDLen-1], false},
		{"one long", good + "0", false},
		{"upper-case hex", "20261124T093012.345678Z-3F9A1C2B", false},
		{"letter in the date", "2026112aT093012.345678Z-3f9a1c2b", false},
		{"no T", "20261124X093012.345678Z-3f9a1c2b", false},
		{"no dot", "20261124T093012,345678Z-3f9a1c2b", false},
		{"no Z", "20261124T093012.345678z-3f9a1c2b", false},
		{"no dash", "20261124T093012.345678Z_3f9a1c2b", false},
		{"hex beyond f", "20261124T093012.345678Z-3f9a1c2g", false},
		{"path traversal", "../../../../../../../etc/passwd", false},
		{"slash inside", "20261124T093012.345678Z-3f9a/c2b", false},
		{"NUL", "20261124T093012.345678Z-3f9a1c2\x00", false},
		{"multi-byte digit", "２0261124T093012.345678Z-3f9a1c", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidID(tc.id); got != tc.valid {
				t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.valid)
			}
			if _, err := RelPath(tc.id); (err == nil) != tc.valid {
				t.Errorf("RelPath(%q) error = %v, want valid=%v", tc.id, err, tc.valid)
			}
		})
	}
}

func TestIDTimeRefusesImpossibleDates(t *testing.T) {
	for _, id := range []string{
		"20261399T093012.345678Z-3f9a1c2b", // month 13
		"20260230T093012.345678Z-3f9a1c2b", // 30 February
		"20261124T253012.345678Z-3f9a1c2b", // 25 o'clock
		"not an id",
	} {
		if got, err := IDTime(id); err == nil {
			t.Errorf("IDTime(%q) = %v, want an error", id, got)
		}
	}
}

func TestTimePrefixIsMonotonic(t *testing.T) {
	t0 := time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC)
	for _, d := range []time.Duration{0, time.Nanosecond, time.Microsecond, time.Second, 24 * time.Hour, 400 * 24 * time.Hour} {
		if a, b := TimePrefix(t0), TimePrefix(t0.Add(d)); a > b || len(a) != TimePrefixLen || len(b) != TimePrefixLen {
			t.Errorf("TimePrefix(t) = %q, TimePrefix(t+%v) = %q", a, d, b)
		}
	}
}

// idRE is the regular expression recorder.ValidID used before the id had
// its own package; ValidID must accept exactly the same strings.
var idRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{6}Z-[0-9a-f]{8}$`)

func FuzzValidID(f *testing.F) {
	for _, s := range []string{"20261124T093012.345678Z-3f9a1c2b", "", "20261124T093012.345678Z-3f9a1c2b\n", "20261124T093012.345678Z-3F9a1c2b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidID(s), idRE.MatchString(s); got != want {
			t.Errorf("ValidID(%q) = %v, the regular expression says %v", s, got, want)
		}
	})
}

// BenchmarkValidID is on the store's hot path: every key a list page walks
// and every row it decodes is checked with it.
func BenchmarkValidID(b *testing.B) {
	id := NewID(time.Now())
	b.ReportAllocs()
	b.SetBytes(int64(len(id)))
	for b.Loop() {
		if !ValidID(id) {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkRelPath(b *testing.B) {
	id := NewID(time.Now())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RelPath(id); err != nil {
			b.Fatal(err)
		}
	}
}
