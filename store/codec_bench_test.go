package store

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// BenchmarkRowCodec compares the binary row with encoding/json on the
// generated data of BenchmarkList1M: bytes per row and decode cost.
func BenchmarkRowCodec(b *testing.B) {
	next := newGen(1, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), genLarge)
	rows := make([]recording.Meta, 1000)
	for i := range rows {
		rows[i] = next()
	}
	bin := make([][]byte, len(rows))
	js := make([][]byte, len(rows))
	var binN, jsN int
	for i := range rows {
		bin[i] = encodeRow(&rows[i])
		js[i], _ = json.Marshal(&rows[i])
		binN += len(bin[i])
		jsN += len(js[i])
	}
	b.Run("binary/decode", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := decodeRow(rows[i%len(rows)].ID, bin[i%len(rows)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(binN)/float64(len(rows)), "bytes/row")
	})
	b.Run("binary/check", func(b *testing.B) { // what a free-text scan does per row
		b.ReportAllocs()
		var v rowView
		i := 0
		for b.Loop() {
			if err := v.parse(bin[i%len(rows)]); err != nil {
				b.Fatal(err)
			}
			_ = containsFold(v.s[fTitle], "no such words")
			i++
		}
	})
	b.Run("json/decode", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			var r recording.Meta
			if err := json.Unmarshal(js[i%len(rows)], &r); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(jsN)/float64(len(rows)), "bytes/row")
	})
}
