package viewerxml

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/lab"
)

// The viewer exports in the shared test data (ref §11.1). They are read in
// place, never copied into the repository.
var exports = []string{"67.06.30-296.59.eid", "67.06.30-296.60.eid"}

func viewerExports(t testing.TB) string {
	t.Helper()
	return filepath.Join(lab.SharedTestdata(t), "cards", "viewer-exports")
}

func readExport(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(viewerExports(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Stand-in binary content for synthetic readings: Marshal does not look
// inside the photo or the certificates, and fixed bytes keep the golden
// files stable (a JPEG encoder or a fresh key would not be). The photo is
// long enough for its base64 to wrap.
var (
	fakePhoto = append(append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte("stand-in photo "), 8)...), 0xFF, 0xD9)
	fakeCerts = eidfile.Certificates{
		Authentication: []byte("stand-in authentication certificate"),
		Signing:        []byte("stand-in signing certificate"),
		CA:             []byte("stand-in CA certificate"),
		Root:           []byte("stand-in root certificate"),
		RRN:            []byte("stand-in RRN certificate"),
	}
)

// withPhoto sets the photo and the hash Unmarshal derives from it.
func withPhoto(r *eidfile.Reading, photo []byte) *eidfile.Reading {
	r.Photo = photo
	sum := sha256.Sum256(photo)
	r.PhotoSHA256 = hex.EncodeToString(sum[:])
	return r
}

// foreignerReading is a card A of the new layout with every foreigner field
// the format carries, and a birth date known only to the month. Only fields
// the format carries are set, so it survives a round trip unchanged.
func foreignerReading() *eidfile.Reading {
	certs := fakeCerts
	return withPhoto(&eidfile.Reading{
		Card: eidfile.CardInfo{
			CardNumber:          "B012345678",
			ChipNumber:          "534C494E33660012A5C3000F1E2D3C4B",
			ValidFrom:           "2023-05-02",
			ValidUntil:          "2028-05-02",
			IssuingMunicipality: "Bruxelles & Ixelles <test>",
			DocumentType:        33,
			DocumentTypeName:    "foreigner_A",
		},
		Identity: eidfile.Identity{
			NationalNumber:             "85030012345",
			Surname:                    "Specimen-Müller",
			FirstNames:                 "Ana \"Test\" María",
			ThirdInitial:               "J",
			Nationality:                "Espagnole",
			BirthPlace:                 "Sevilla",
			BirthDate:                  "1985-03",
			Gender:                     "female",
			NobleCondition:             "Baronne",
			SpecialStatus:              "extended_minority",
			Duplicate:                  "01",
			MemberOfFamily:             true,
			DateAndCountryOfProtection: "13.08.2014-IT",
			WorkPermit:                 "limited",
			EmployerVAT1:               "0123.456.749",
			EmployerVAT2:               "0987.654.321",
			RegionalFileNumber:         "RF-2023-0001",
			CardAMention1:              "D",
			CardAMention2:              "K",
		},
		Address: &eidfile.Address{
			StreetAndNumber: "Rue de la Loi 16",
			Zip:             "1000",
			Municipality:    "Bruxelles",
		},
		Certificates: &certs,
	}, fakePhoto)
}

// brexitReading is a card M (Brexit) with both Brexit mentions, a seasonal
// work permit, a birth date known only by its year, and no authentication
// or signing certificate.
func brexitReading() *eidfile.Reading {
	return withPhoto(&eidfile.Reading{
		Card: eidfile.CardInfo{
			CardNumber:          "B123456789",
			ChipNumber:          "0102030405060708090A0B0C0D0E0F10",
			ValidFrom:           "2021-01-04",
			ValidUntil:          "2031-01-04",
			IssuingMunicipality: "Antwerpen",
			DocumentType:        22,
			DocumentTypeName:    "foreigner_m",
		},
		Identity: eidfile.Identity{
			NationalNumber: "79000012345",
			Surname:        "Specimen",
			FirstNames:     "John",
			Nationality:    "Britse",
			BirthPlace:     "London",
			BirthDate:      "1979",
			Gender:         "male",
			SpecialStatus:  "yellow_cane",
			WorkPermit:     "seasonal_worker",
			BrexitMention1: "B",
			BrexitMention2: "C",
		},
		Address: &eidfile.Address{
			StreetAndNumber: "Meir 1",
			Zip:             "2000",
			Municipality:    "Antwerpen",
		},
		Certificates: &eidfile.Certificates{
			CA:   fakeCerts.CA,
			Root: fakeCerts.Root,
			RRN:  fakeCerts.RRN,
		},
	}, fakePhoto)
}

// kidsForeignerReading has a document type the viewer writes but eidv4.xsd
// does not list (ref §6.1).
func kidsForeignerReading() *eidfile.Reading {
	r := brexitReading()
	r.Card.DocumentType = 61
	r.Card.DocumentTypeName = "kids_foreigner_eu"
	r.Identity.WorkPermit = ""
	r.Identity.BrexitMention1 = ""
	r.Identity.BrexitMention2 = ""
	r.Identity.BirthDate = "2016-02-29"
	return r
}

// syntheticReadings are the readings with golden files.
var syntheticReadings = []struct {
	name    string
	reading func() *eidfile.Reading
}{
	{"foreigner-card-a", foreignerReading},
	{"brexit-card-m", brexitReading},
}
