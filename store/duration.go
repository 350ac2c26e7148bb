package store

import (
	"bytes"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// smallSetMax is the largest candidate set a duration-sorted page ranks in
// memory: under 1 MB of keys and about 3 ms of work (a week of a busy
// site, 6,300 rows, takes 1.2 ms in BenchmarkList1M). Larger sets walk the
// duration index instead, where at least one row in
// rows/smallSetMax matches, so on a million rows a page of 50 needs at most
// a few thousand row checks, within the page budget.
const smallSetMax = 20_000

// durationStream plans a duration-ordered page (see ListRecordings).
func (q *query) durationStream(tx *bolt.Tx) stream {
	if keys, ok := q.smallCandidates(tx); ok {
		return &sorted{keys: keys, desc: q.desc}
	}
	return single{&walker{c: tx.Bucket(bucketDuration).Cursor(), restLen: 8 + recording.IDLen, desc: q.desc, work: &q.work}}
}

// smallCandidates walks every equality filter's index range (and, when a
// time range is set, the rows in it) side by side, one step each in turn,
// until one of them ends within smallSetMax entries (fewer when there are
// more than one: see limit). That one is walked
// again to collect its entries as duration-index positions (8-byte
// duration + id), sorted; the other filters are checked on the rows. ok is
// false when there is no filter or every range is larger.
func (q *query) smallCandidates(tx *bolt.Tx) (keys [][]byte, ok bool) {
	var ws []*walker
	for _, e := range q.eqFilters() {
		ws = append(ws, q.idWalker(tx.Bucket(e[0]).Cursor(), e[1]))
	}
	if q.lo != nil || q.hi != nil {
		w := q.idWalker(tx.Bucket(bucketRecordings).Cursor(), nil)
		w.rows = true
		ws = append(ws, w)
	}
	for _, w := range ws {
		w.desc = false
	}
	// The probes may spend a quarter of the page budget, so that the page
	// still has work left when they all fail.
	limit := q.smallSet
	if len(ws) > 0 {
		limit = min(limit, q.budget/4/len(ws)/costNext)
	}
	winner := -1
	n := 0
	for ; winner < 0 && n <= limit && len(ws) > 0; n++ {
		for i, w := range ws {
			var more bool
			if n == 0 {
				_, _, more = w.seek(nil)
			} else {
				_, _, more = w.next()
			}
			if !more {
				winner = i
				break
			}
		}
	}
	if winner < 0 {
		return nil, false
	}
	w := ws[winner]
	const keyLen = 8 + recording.IDLen
	arena := make([]byte, 0, n*keyLen)
	keys = make([][]byte, 0, n)
	for rest, val, more := w.seek(nil); more; rest, val, more = w.next() {
		dur := val
		if w.rows {
			dur = val[1:min(9, len(val))]
		}
		if len(dur) != 8 {
			continue // corrupt; the row check reports it if reached
		}
		arena = append(append(arena, dur...), rest...)
		keys = append(keys, arena[len(arena)-keyLen:len(arena):len(arena)])
	}
	slices.SortFunc(keys, bytes.Compare)
	return keys, true
}
