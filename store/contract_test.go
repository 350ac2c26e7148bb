package store_test

import (
	"path/filepath"
	"testing"

	"github.com/jumpcast/jumpcast/store"
	"github.com/jumpcast/jumpcast/store/storetest"
)

// TestContract runs the index contract suite against the bbolt backend.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Index {
		s, err := store.Open(filepath.Join(t.TempDir(), "index.db"), store.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
