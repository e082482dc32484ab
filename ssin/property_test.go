package ssin

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"
)

// oracleCheck computes the SSIN check digits with math/big, independently of
// the code under test.
func oracleCheck(nine string, from2000 bool) int {
	n, _ := new(big.Int).SetString(nine, 10)
	if from2000 {
		n.Add(n, big.NewInt(2_000_000_000))
	}
	return 97 - int(new(big.Int).Mod(n, big.NewInt(97)).Int64())
}

// TestPropertyGenerated builds valid numbers from random parts and checks
// that Parse returns exactly those parts, and that every other pair of
// check digits is refused or read as the other century.
func TestPropertyGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		century := 1900 + 100*r.IntN(2)
		yy := r.IntN(100)
		year := century + yy
		month := r.IntN(13)
		day := 0
		if month > 0 && r.IntN(10) > 0 {
			day = 1 + r.IntN(time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day())
		}
		seq := r.IntN(1000)
		offset, kind := 0, NN
		switch r.IntN(3) {
		case 1:
			offset, kind = 20, BIS
		case 2:
			offset, kind = 40, BIS
		}
		nine := fmt.Sprintf("%02d%02d%02d%03d", yy, month+offset, day, seq)
		cc := oracleCheck(nine, century == 2000)
		s := fmt.Sprintf("%s%02d", nine, cc)

		n, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%s): %v", s, err)
		}
		want := Date{Year: year, Month: month, Day: day}
		if yy == 0 && month == 0 && day == 1 {
			want = Date{}
		}
		gender := GenderUnknown
		if offset != 20 {
			gender = Female
			if seq%2 == 1 {
				gender = Male
			}
		}
		if n.Digits != s || n.Kind != kind || n.Century != century || n.BirthDate != want || n.Gender != gender || n.Sequence != seq {
			t.Fatalf("Parse(%s) = %+v; want kind %v century %d date %+v gender %v", s, n, kind, century, want, gender)
		}
		if back, err := Parse(Format(n)); err != nil || back != n {
			t.Fatalf("Parse(Format(%s)) = %+v, %v", s, back, err)
		}

		other := oracleCheck(nine, century != 2000)
		bad := (cc + 1 + r.IntN(98)) % 100
		m, err := Parse(fmt.Sprintf("%s%02d", nine, bad))
		switch {
		case bad == other:
			if err != nil || m.Century == century {
				t.Fatalf("%s%02d: want the other century, got %+v, %v", nine, bad, m, err)
			}
		case !errors.Is(err, ErrChecksum):
			t.Fatalf("%s%02d: want ErrChecksum, got %v", nine, bad, err)
		}
	}
}

// TestPropertyRandomDigits compares Parse with the oracle on arbitrary
// 11-digit strings.
func TestPropertyRandomDigits(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 50000; i++ {
		s := fmt.Sprintf("%011d", r.Int64N(100_000_000_000))
		cc := int(s[9]-'0')*10 + int(s[10]-'0')
		checksumOK := cc == oracleCheck(s[:9], false) || cc == oracleCheck(s[:9], true)
		_, err := Parse(s)
		if checksumOK != !errors.Is(err, ErrChecksum) {
			t.Fatalf("Parse(%s) = %v; oracle says check digits ok=%v", s, err, checksumOK)
		}
		if (Check(s) == nil) != checksumOK {
			t.Fatalf("Check(%s) disagrees with the oracle", s)
		}
	}
}

// TestPropertyCardNumbers checks ValidateCardNumber against the mod-97 rule
// on random 12-digit numbers.
func TestPropertyCardNumbers(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 50000; i++ {
		first := r.Int64N(10_000_000_000)
		rem := int(first % 97)
		var cc int
		if r.IntN(2) == 0 {
			cc = rem
		} else {
			cc = r.IntN(100)
		}
		s := fmt.Sprintf("%010d%02d", first, cc)
		ok := cc == rem || (rem == 0 && cc == 97)
		err := ValidateCardNumber(s)
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrChecksum)) {
			t.Fatalf("ValidateCardNumber(%s) = %v, want ok=%v", s, err, ok)
		}
	}
}
