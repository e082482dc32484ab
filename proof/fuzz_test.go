package proof

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen treats arbitrary bytes as a journal found on disk. Open either
// refuses it as corrupt without touching it, or keeps a prefix made of
// whole lines that all parse, and a second Open finds nothing to drop.
func FuzzOpen(f *testing.F) {
	good := []byte(`{"id":"0000000000000001","readAt":"2025-03-29T22:00:00+01:00","readingDate":"20250329","readingTime":"2200","supportType":"4","inputType":"2","ssin":"85073003328","validity":"unknown"}` + "\n")
	f.Add(good)
	f.Add(append(append([]byte{}, good...), good[:40]...))
	f.Add(append(append([]byte("x\n"), good...), 0, 0, 0))
	f.Add([]byte("\x00\x00\n\n"))
	f.Add([]byte(`{"readAt":"2025-03-29T22:00:00Z"}` + "\n" + `{"readAt":1}`))
	// One file, rewritten for each input: fuzz inputs run one at a time in
	// each worker process, and a directory per input would dominate the run.
	path := filepath.Join(f.TempDir(), "proofs.jsonl")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		j, err := Open(path, Options{})
		after, _ := os.ReadFile(path)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(after, data) {
				t.Fatal("a refused journal was changed")
			}
			return
		}
		recs, err := j.Query(Query{})
		j.Close()
		if err != nil {
			t.Fatalf("Query after Open: %v", err)
		}
		if !bytes.HasPrefix(data, after) || int64(len(data)-len(after)) != j.Dropped() {
			t.Fatalf("kept %d of %d bytes, Dropped %d", len(after), len(data), j.Dropped())
		}
		if len(after) > 0 && after[len(after)-1] != '\n' || bytes.Count(after, []byte("\n")) != len(recs) {
			t.Fatalf("%d records in %q", len(recs), after)
		}
		j2, err := Open(path, Options{})
		if err != nil || j2.Dropped() != 0 {
			t.Fatalf("second Open: %v, dropped %d", err, j2.Dropped())
		}
		j2.Close()
	})
}
