package store

import (
	"bytes"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// smallSetMax is the largest candidate set a duration-sorted page ranks in
// memory (about 0.4 MB of keys and a few ms of work at the budget's
// weights). Larger sets walk the duration index instead.
const smallSetMax = 5000

// durationStream plans a duration-ordered page (see ListRecordings).
func (q *query) durationStream(tx *bolt.Tx) stream {
	if keys, ok := q.smallCandidates(tx); ok {
		return &sorted{keys: keys, desc: q.desc}
	}
	return single{&walker{c: tx.Bucket(bucketDuration).Cursor(), restLen: 8 + idLen, desc: q.desc, work: &q.work}}
}

// smallCandidates walks every equality filter's index range (and, when a
// time range is set, the rows in it) side by side, one step each in turn,
// until one of them ends within smallSetMax entries. That one's entries, as
// duration-index positions (8-byte duration + id), sorted, are the
// candidates; the other filters are checked on the rows. ok is false when
// there is no filter or every range is larger than smallSetMax.
func (q *query) smallCandidates(tx *bolt.Tx) (keys [][]byte, ok bool) {
	type probe struct {
		w    *walker
		rows bool // values are rows (duration at [1:9]), not 8-byte durations
		keys [][]byte
	}
	var probes []*probe
	for _, e := range q.eqFilters() {
		w := q.idWalker(tx.Bucket(e[0]).Cursor(), e[1])
		w.desc = false
		probes = append(probes, &probe{w: w})
	}
	if q.lo != nil || q.hi != nil {
		w := q.idWalker(tx.Bucket(bucketRecordings).Cursor(), nil)
		w.desc = false
		probes = append(probes, &probe{w: w, rows: true})
	}
	if len(probes) == 0 {
		return nil, false
	}
	for n := 0; n <= q.smallSet; n++ {
		for _, p := range probes {
			var rest, val []byte
			var more bool
			if n == 0 {
				rest, val, more = p.w.seek(nil)
			} else {
				rest, val, more = p.w.next()
			}
			if !more {
				slices.SortFunc(p.keys, bytes.Compare)
				return p.keys, true
			}
			dur := val
			if p.rows {
				if len(val) < 9 {
					continue // corrupt; the row check reports it if reached
				}
				dur = val[1:9]
			}
			if len(dur) != 8 {
				continue
			}
			k := make([]byte, 0, 8+idLen)
			p.keys = append(p.keys, append(append(k, dur...), rest...))
		}
	}
	return nil, false
}
