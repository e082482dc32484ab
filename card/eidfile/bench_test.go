package eidfile

import (
	"testing"
	"time"
)

// BenchmarkDecodeVerify measures the host-side work of a read, without the
// card: parsing and verifying the public test dumps.
func BenchmarkDecodeVerify(b *testing.B) {
	for _, name := range []string{"alice-v11-rsa", "specimen-v17-ec"} {
		f := loadDump(b, name)
		ts := &TrustStore{}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Decode(f); err != nil {
					b.Fatal(err)
				}
				Verify(f, ts, time.Now())
			}
		})
	}
}
