package viewerxml

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.eid.golden from Marshal's output")

// TestGolden pins Marshal's exact output, so that any change to what we hand
// the viewer shows up in review. Regenerate with: go test -run TestGolden -update
func TestGolden(t *testing.T) {
	for _, tc := range syntheticReadings {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Marshal(tc.reading())
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.name+".eid.golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Marshal output differs from %s (run with -update if intended):\n%s", path, got)
			}
			// The golden file reads back to the reading it was made from.
			r, err := Unmarshal(want)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r, tc.reading()) {
				t.Errorf("%s reads back as %+v", path, r)
			}
		})
	}
}
