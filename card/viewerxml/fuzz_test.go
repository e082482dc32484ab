package viewerxml

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzUnmarshal: Unmarshal never panics, fails only with ErrFormat, and
// whatever it accepts is stable: if Marshal can write the Reading, reading
// that back gives the same Reading.
func FuzzUnmarshal(f *testing.F) {
	goldens, _ := filepath.Glob(filepath.Join("testdata", "*.eid.golden"))
	for _, g := range goldens {
		b, err := os.ReadFile(g)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	if b, err := Marshal(kidsForeignerReading()); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"<eid/>",
		"<eid><identity/><card/></eid>",
		"\uFEFF<eid></eid>",
		`<eid><identity nationalnumber="67063029659" dateofbirth="19670019" gender="male"/>` +
			`<card documenttype="x" cardnumber="" chipnumber="00000000000000000000000000000000" ` +
			`validitydatebegin="20000101" validitydateend="20000101"><protection_date_country>` +
			`01.01.2000-BE</protection_date_country></card><address/><certificates><root>AA==</root></certificates></eid>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Unmarshal(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			return
		}
		out, err := Marshal(r)
		if err != nil {
			if !errors.Is(err, ErrUnrepresentable) {
				t.Fatalf("Marshal: error %v does not match ErrUnrepresentable", err)
			}
			return
		}
		again, err := Unmarshal(out)
		if err != nil {
			t.Fatalf("Marshal wrote what Unmarshal rejects: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(r, again) {
			t.Fatalf("not stable:\nfirst  %+v\nsecond %+v", r, again)
		}
	})
}
