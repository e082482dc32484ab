package virtual

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// presets are the ready-made cards of the demo mode. Holders are fictional
// ("Specimen"), PIN 1234; each one exercises a different part of a reader.
var presets = map[string]GenerateOptions{
	// Applet 1.1, RSA-1024, SHA-1 signatures and photo hash, Dutch.
	"citizen-1.1": {Generation: Generation11, FirstNames: "Marc Jozef", ThirdInitial: "L",
		BirthDate: date(1971, time.January, 1), BirthPlace: "Hasselt", Language: "nl"},
	// Applet 1.7, RSA-2048, SHA-256; French, a woman born in March
	// ("08 MARS 1980"). This is the card OpenSC 0.23 fully supports.
	"citizen-1.7": {Generation: Generation17, FirstNames: "Sophie Marie", Female: true,
		BirthDate: date(1980, time.March, 8), BirthPlace: "Namur", Language: "fr",
		Street: "Rue du Spécimen 12", Zip: "5000", Municipality: "Namur", IssuingMunicipality: "Namur"},
	// Applet 1.7 re-keyed to the EC PKI: RSA card keys, ECDSA-SHA-384
	// National Register signatures, SHA-256 photo hash.
	"citizen-1.7-ec": {Generation: Generation17EC, FirstNames: "Pieter Jan",
		BirthDate: date(1975, time.April, 26), BirthPlace: "Gent", Language: "nl"},
	// Applet 1.8, EC P-384 everywhere, basic key, leading tag 00.
	"citizen-1.8": {Generation: Generation18, FirstNames: "Lucas Émile",
		BirthDate: date(1990, time.December, 24), BirthPlace: "Liège", Language: "fr",
		Street: "Place du Spécimen 3", Zip: "4000", Municipality: "Liège", IssuingMunicipality: "Liège"},
	// Kids-ID on 1.8: born after 2000 (national number rule), no signature
	// certificate.
	"kids-1.8": {Generation: Generation18, DocumentType: 6, FirstNames: "Emma Louise", Female: true,
		BirthDate: date(2017, time.May, 3), BirthPlace: "Antwerpen", Language: "nl", NoSignCert: true},
	// Foreigner card A on 1.7, German (birth date "13.AUG.1996"), every
	// foreigner tag filled, Foreigner CA.
	"foreigner-1.7": {Generation: Generation17, DocumentType: 11, FirstNames: "Jonas Felix",
		BirthDate: date(1996, time.August, 13), BirthPlace: "Aachen", Language: "de",
		Street: "Musterstraße 7", Zip: "4700", Municipality: "Eupen", IssuingMunicipality: "Eupen"},
	// EU card on 1.8: foreigner tags around the basic-key hash (tag 1A).
	"foreigner-1.8": {Generation: Generation18, DocumentType: 31, FirstNames: "Anna Maria", Female: true,
		BirthDate: date(1988, time.March, 2), BirthPlace: "Maastricht", Language: "nl"},
}

// PresetNames lists the presets, sorted.
func PresetNames() []string { return slices.Sorted(maps.Keys(presets)) }

// Preset generates (or returns the cached) profile of a preset, valid
// around today (clock.Now): the demo's cards never expire. The error wraps
// ErrUnknownPreset for a name PresetNames does not list.
func Preset(name string) (*Profile, error) { return PresetAt(name, time.Time{}) }

// PresetAt is Preset with the card's validity chosen around day instead
// of today (the card is issued on the first of the month a year before):
// a test that compares a card's dates with a golden file passes a fixed
// day, so that its result is the same on any day it runs. A zero day means
// today.
func PresetAt(name string, day time.Time) (*Profile, error) {
	o, ok := presets[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownPreset, name, PresetNames())
	}
	o.Name = name
	if !day.IsZero() {
		o.ValidFrom = issueDay(day)
	}
	return Generate(o)
}
