package store

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// Work accounting. One list page may spend at most pageBudget units. A
// unit is about 0.1 µs, measured with BenchmarkList1M on a million-row
// index (2-core AMD EPYC, warm page cache): a cursor Next/Prev within a
// leaf costs costNext; a Seek (a descent from the root) costSeek;
// checking a row the walk already holds (the rows bucket itself) costRow;
// looking a row up by id first (from an index walk) costRowGet, dominated
// by cache misses in the rows bucket. pageBudget is therefore about 10 ms,
// e.g. 33,000 rows of a free-text scan or 7,500 rows looked up from an
// index, so a page that has to skip many non-matching rows stops early
// and returns a cursor instead of scanning the whole index. A cold page
// cache (the first list after start-up) can be slower.
const (
	costNext   = 1
	costSeek   = 6
	costRow    = 2
	costRowGet = 12
	pageBudget = 100_000
)

// walker iterates the keys of one bucket that share a prefix, in one
// direction, yielding the key's rest (the part after the prefix) when it
// has exactly restLen bytes and lies within [lo, hi). lo and hi bound the
// rest: nil means unbounded. Keys whose rest has another length belong to
// a longer indexed value that merely starts with the same bytes and are
// skipped. Returned slices point into the transaction's pages.
type walker struct {
	c       *bolt.Cursor
	prefix  []byte
	restLen int
	lo, hi  []byte
	desc    bool
	rows    bool // values are recording rows (the recordings bucket)
	work    *int // shared page budget counter
}

// seek positions the walker at the first rest at or beyond target in its
// direction (target nil: the start of the range) and returns it.
func (w *walker) seek(target []byte) (rest, val []byte, ok bool) {
	*w.work += costSeek
	// Start at the range's edge when target is nil or outside the range.
	if w.desc {
		if target == nil || (w.hi != nil && bytes.Compare(target, w.hi) > 0) {
			target = w.hi
		}
	} else if target == nil || (w.lo != nil && bytes.Compare(target, w.lo) < 0) {
		target = w.lo
	}
	key := make([]byte, 0, len(w.prefix)+len(target)+1)
	key = append(append(key, w.prefix...), target...)
	if w.desc && target == nil {
		key = append(key, 0xff) // past every rest under the prefix
	}
	k, v := w.c.Seek(key)
	if w.desc {
		if k == nil {
			k, v = w.c.Last()
		} else if bytes.Compare(k, key) > 0 {
			k, v = w.c.Prev()
		}
	}
	return w.settle(k, v)
}

// next moves one matching key further in the walker's direction.
func (w *walker) next() (rest, val []byte, ok bool) {
	*w.work += costNext
	return w.settle(w.step())
}

func (w *walker) step() ([]byte, []byte) {
	if w.desc {
		return w.c.Prev()
	}
	return w.c.Next()
}

// settle skips foreign keys from k on and checks the range bounds.
func (w *walker) settle(k, v []byte) (rest, val []byte, ok bool) {
	for ; k != nil; k, v = w.step() {
		if !bytes.HasPrefix(k, w.prefix) {
			return nil, nil, false
		}
		rest = k[len(w.prefix):]
		if len(rest) != w.restLen {
			*w.work += costNext
			continue
		}
		if w.lo != nil && bytes.Compare(rest, w.lo) < 0 {
			if w.desc {
				return nil, nil, false
			}
			*w.work += costNext
			continue
		}
		if w.hi != nil && bytes.Compare(rest, w.hi) >= 0 {
			if !w.desc {
				return nil, nil, false
			}
			*w.work += costNext
			continue
		}
		return rest, v, true
	}
	return nil, nil, false
}

// stream yields page positions (cursor keys) in walk order. A position
// ends with the recording id; row is the recording's row when the stream
// read it anyway (nil: the caller looks it up). first and next report outOfBudget when the
// page budget ran out before the next position was decided; pos is then
// the earliest undecided position, where the next page resumes
// (inclusively).
type stream interface {
	first(from []byte, inclusive bool) (pos, row []byte, st streamState)
	next() (pos, row []byte, st streamState)
}

type streamState int

const (
	streamOK streamState = iota
	streamEnd
	streamOutOfBudget
)

// single streams one walker's keys.
type single struct{ w *walker }

func (s single) first(from []byte, inclusive bool) ([]byte, []byte, streamState) {
	rest, val, ok := s.w.seek(from)
	if ok && !inclusive && bytes.Equal(rest, from) {
		rest, val, ok = s.w.next()
	}
	return s.result(rest, val, ok)
}

func (s single) next() ([]byte, []byte, streamState) {
	return s.result(s.w.next())
}

func (s single) result(rest, val []byte, ok bool) ([]byte, []byte, streamState) {
	if !ok {
		return nil, nil, streamEnd
	}
	if !s.w.rows {
		val = nil
	}
	return rest, val, streamOK
}

// leapfrog streams the ids present in every one of its walkers (all over
// ids, all in the same direction): the intersection of several equality
// filters, found by seeking each walker to the current candidate instead
// of scanning any of them. Its cost is bounded by the page budget; when the
// budget runs out, everything between the start and the current candidate
// is known not to match.
type leapfrog struct {
	ws    []*walker
	lead  int
	cand  []byte
	work  *int
	limit int
}

func (l *leapfrog) first(from []byte, inclusive bool) ([]byte, []byte, streamState) {
	rest, _, ok := l.ws[0].seek(from)
	if ok && !inclusive && bytes.Equal(rest, from) {
		rest, _, ok = l.ws[0].next()
	}
	if !ok {
		return nil, nil, streamEnd
	}
	l.lead, l.cand = 0, rest
	return l.settle()
}

func (l *leapfrog) next() ([]byte, []byte, streamState) {
	rest, _, ok := l.ws[l.lead].next()
	if !ok {
		return nil, nil, streamEnd
	}
	l.cand = rest
	return l.settle()
}

// settle advances the candidate until every walker agrees on it.
func (l *leapfrog) settle() ([]byte, []byte, streamState) {
	for round := 0; ; round++ {
		// One round always runs: it either agrees or moves the candidate
		// forward, so a resumed page always makes progress.
		if round > 0 && *l.work >= l.limit {
			return l.cand, nil, streamOutOfBudget
		}
		agreed := true
		for j, w := range l.ws {
			if j == l.lead {
				continue
			}
			rest, _, ok := w.seek(l.cand)
			if !ok {
				return nil, nil, streamEnd
			}
			if !bytes.Equal(rest, l.cand) {
				l.lead, l.cand, agreed = j, rest, false
				break
			}
		}
		if agreed {
			return l.cand, nil, streamOK
		}
	}
}

// sorted streams an in-memory, ascending list of positions in either
// direction.
type sorted struct {
	keys [][]byte
	desc bool
	i    int
}

func (s *sorted) first(from []byte, inclusive bool) ([]byte, []byte, streamState) {
	n := len(s.keys)
	// i = first index with keys[i] >= from (or > from when exclusive and ascending).
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		c := 1
		if from != nil {
			c = bytes.Compare(s.keys[m], from)
		}
		if c < 0 || (c == 0 && (s.desc == inclusive)) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	switch {
	case from == nil && s.desc:
		s.i = n - 1
	case from == nil:
		s.i = 0
	case s.desc:
		s.i = lo - 1
	default:
		s.i = lo
	}
	return s.cur()
}

func (s *sorted) next() ([]byte, []byte, streamState) {
	if s.desc {
		s.i--
	} else {
		s.i++
	}
	return s.cur()
}

func (s *sorted) cur() ([]byte, []byte, streamState) {
	if s.i < 0 || s.i >= len(s.keys) {
		return nil, nil, streamEnd
	}
	return s.keys[s.i], nil, streamOK
}
