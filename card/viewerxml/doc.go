// Package viewerxml converts an eidfile.Reading to and from the ".eid" XML files
// of the official eID Viewer, format version 4 as defined by eidv4.xsd
// (ref §11.2).
//
// An .eid file is an unsigned convenience export: it carries the identity,
// card, address, photo and certificates, but none of the National Register
// signature files. A Reading obtained by Unmarshal therefore has an empty
// Integrity and cannot be verified; it is what the file claims, nothing more.
//
// # Decisions where the format leaves room
//
// Version. Marshal writes version="4.5", the newest value eidv4.xsd
// enumerates (it allows 4.1 to 4.5; a file without the attribute, like the
// public samples, is format 4.0). Per the viewer's versions.md, 4.1 added the
// foreigner attributes and <workpermit>, 4.2 <brexit>, 4.3 the newer document
// types and 4.5 <cardA>, all of which Marshal may write. The viewer itself
// declares the lowest version covering the fields it wrote (at least 4.3, the
// version its document-type field is tagged with); always writing 4.5 keeps
// our output independent of the card at no cost, since the current viewer
// warns about "a more recent version" only above 4.5, and older viewers show
// that warning and still load the file.
//
// Partial birth dates. dateofbirth must match \d{8}. A birth date known to the
// month (Reading "YYYY-MM") is written YYYYMM00 and one known only by its year
// ("YYYY") as YYYY0000: zero stands for "unknown", as the viewer's own month 0
// does. Unmarshal reads a 00 month as year-only whatever the day, because the
// viewer writes a year-only card date as YYYY00 followed by the first two
// digits of the year; a 00 day with a real month reads as "YYYY-MM".
//
// Date and country of protection. eidv4.xsd has it as the identity attribute
// dateandcountryofprotection, eight digits and a two-character country.
// Marshal writes the date as YYYYMMDD, like every other date in the schema:
// the card's "13.08.2014-IT" becomes "20140813IT". The viewer itself writes the
// raw card string in a <protection_date_country> child of <card>, which the
// XSD lacks (a known discrepancy, ref §11.2); Unmarshal accepts that element
// too, and a DDMMYYYY attribute.
//
// Values outside the XSD. The document types kids_foreigner_* (codes 61-69)
// are written as the viewer writes them although eidv4.xsd does not enumerate
// them (ref §6.1): such a file fails schema validation, and a viewer that
// validates on opening (the Linux and macOS builds do) refuses it. Every other
// value Marshal writes is checked against the schema's types, and a Reading
// that cannot satisfy them gives ErrUnrepresentable rather than a file the
// viewer would reject: national number not 11 digits, chip number not 16
// bytes of hex, an employer VAT number that is not ten digits once its dots
// are removed, an unknown code, text with characters XML 1.0 cannot hold,
// or a missing part the schema requires (address, photo, and the root, CA and
// RRN certificates). The authentication and signing certificates are omitted
// when absent, as on a Kids-ID. A card whose decoded Reading kept a value as
// written because the code tables did not know it (a gender, special status
// or work permit code, an unreadable date) cannot be exported either: the
// viewer's vocabulary has no word for it.
//
// Presence. Optional attributes are written only when the Reading has a value
// (an empty noblecondition is omitted, as the viewer omits it);
// memberoffamily is written "true" when the card carries tag 14 and omitted
// otherwise. <middlenames> is always written, empty when there is no third
// initial, as the viewer does.
//
// Fields the format lacks are dropped by Marshal and zero after Unmarshal:
// the photo hash (tag 11), special organisation (13), basic-key hash (1A), EU
// start date (1F), and everything about the chip and the read (applet
// version, ATR, GET CARD DATA, PKI, reader). Unmarshal fills PhotoSHA256 from
// the photo, and DocumentType from the documenttype name; an unknown name is
// kept with DocumentType 0 so that a file from a newer viewer still opens.
//
// Reading is strict where the schema is: the identifying attributes
// (nationalnumber, dateofbirth, gender, documenttype, cardnumber, chipnumber,
// validity dates) must be present, and every coded or patterned value must be
// well-formed, else ErrFormat. Free text is taken as written. A missing
// specialstatus leaves SpecialStatus empty rather than "none": the viewer
// omits the attribute only when it did not know the card's code. Elements and
// attributes this package does not know are ignored, and address, photo and
// certificates may be missing (the Reading then lacks them).
package viewerxml
