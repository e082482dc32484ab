package viewerxml

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/eid-agent/eid-agent/internal/testkit"
)

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
			testkit.Golden(t, path, got)
			// The golden file (got, when the test passes) reads back to
			// the reading it was made from.
			r, err := Unmarshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r, tc.reading()) {
				t.Errorf("%s reads back as %+v", path, r)
			}
		})
	}
}
