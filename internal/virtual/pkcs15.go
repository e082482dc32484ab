package virtual

// The PKCS#15 files of DF(BELPIC) and EF(DIR), encoded as on the real card
// (ref §3.2; the structure of PrKDF and CDF entries follows the Fedict card
// generator's output that the reference describes). OpenSC 0.23 has no
// emulator for Belpic and parses these files itself (testing doc §6).

// der encodes one DER element with a definite length.
func der(tag byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := []byte{tag}
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func derUint(v int) []byte {
	// Non-negative INTEGER, minimal, with a leading 00 when the top bit
	// would make it negative.
	var b []byte
	for ; v > 0; v >>= 8 {
		b = append([]byte{byte(v)}, b...)
	}
	if len(b) == 0 || b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	return der(0x02, b)
}

var (
	belpicLabel = []byte("BELPIC")
	pathMF      = []byte{0x3F, 0x00}
	pathBelpic  = []byte{0x3F, 0x00, 0xDF, 0x00}
)

// efDIR is 3F00/2F00: the application template of DF(BELPIC) (ref §3.2).
func efDIR() []byte {
	return der(0x61,
		der(0x4F, PKCS15AID),
		der(0x50, belpicLabel),
		der(0x51, pathBelpic),
		der(0x73, der(0x06, []byte{0x60, 0x38, 0x02})), // OID 2.16.56.2, "Belpic card"
	)
}

// efODF is 5031: pointers to PrKDF, CDF and AODF (ref §3.2).
func efODF() []byte {
	ptr := func(tag byte, fid ...byte) []byte {
		return der(tag, der(0x30, der(0x04, append(append([]byte{}, pathBelpic...), fid...))))
	}
	return append(append(ptr(0xA0, 0x50, 0x35), ptr(0xA4, 0x50, 0x37)...), ptr(0xA8, 0x50, 0x34)...)
}

// efTokenInfo is 5032: version 0, the chip serial, label "BELPIC", token
// flags prnGeneration|eidCompliant and the 4 perso version bytes (ref §3.2).
func efTokenInfo(serial []byte, versions [4]byte) []byte {
	return der(0x30,
		derUint(0),
		der(0x04, serial),
		der(0x80, belpicLabel),
		[]byte{0x03, 0x02, 0x04, 0x30},
		der(0x9E, versions[:]),
	)
}

// efAODF is 5034: the "Basic PIN" object, reference 01, format-2 blocks
// that the file calls BCD, min 4, stored length 8, pad FF (ref §3.2, §7).
func efAODF() []byte {
	return der(0x30,
		der(0x30, der(0x0C, []byte("Basic PIN")), []byte{0x03, 0x02, 0x06, 0xC0}),
		der(0x30, der(0x04, []byte{0x01})),
		der(0xA1, der(0x30,
			[]byte{0x03, 0x02, 0x02, 0x0C}, // initialized, needs-padding
			[]byte{0x0A, 0x01, 0x00},       // bcd
			derUint(4),                     // minLength
			derUint(8),                     // storedLength
			[]byte{0x80, 0x01, 0x01},       // pinReference
			[]byte{0x04, 0x01, 0xFF},       // padChar
			der(0x30, der(0x04, pathMF)),
		)),
	)
}

// commonObject is the CommonObjectAttributes every Belpic object carries:
// label, flags private|modifiable, authId 01 (the Basic PIN).
func commonObject(label string, userConsent bool) []byte {
	parts := [][]byte{der(0x0C, []byte(label)), {0x03, 0x02, 0x06, 0xC0}, der(0x04, []byte{0x01})}
	if userConsent {
		parts = append(parts, derUint(1))
	}
	return der(0x30, parts...)
}

// prKDFEntry is one private key. On 1.x it is a plain SEQUENCE (RSA key);
// on 1.8 the same content is tagged [0], PKCS#15's privateECKey choice
// (ref §3.2).
func prKDFEntry(ec bool, label string, id, keyRef byte, usage []byte, userConsent bool, keyBits int) []byte {
	tag := byte(0x30)
	if ec {
		tag = 0xA0
	}
	return der(tag,
		commonObject(label, userConsent),
		der(0x30,
			der(0x04, []byte{id}),
			usage,
			[]byte{0x03, 0x02, 0x03, 0xB8}, // sensitive, alwaysSensitive, neverExtractable, local
			der(0x02, []byte{0x00, keyRef}),
		),
		der(0xA1, der(0x30, der(0x30, der(0x04, pathBelpic)), derUint(keyBits))),
	)
}

var (
	usageSign           = []byte{0x03, 0x02, 0x05, 0x20}       // sign
	usageNonRepudiation = []byte{0x03, 0x03, 0x06, 0x00, 0x40} // nonRepudiation
)

// efPrKDF is 5035: the authentication key (id 02, ref 82) and the signature
// key (id 03, ref 83, userConsent 1). An entry is left out when its
// certificate is absent, and the file keeps its size, zero-filled at the
// end, as the CDF does (ref §3.2).
func efPrKDF(ec bool, keyBits int, auth, sign bool) []byte {
	a := prKDFEntry(ec, "Authentication", 0x02, keyAuth, usageSign, false, keyBits)
	s := prKDFEntry(ec, "Signature", 0x03, keyNonRepudiation, usageNonRepudiation, true, keyBits)
	return keepPresent(len(a)+len(s), entry{a, auth}, entry{s, sign})
}

func cdfEntry(label string, id byte, authority bool, fid byte) []byte {
	attrs := [][]byte{der(0x04, []byte{id})}
	if authority {
		attrs = append(attrs, []byte{0x01, 0x01, 0xFF})
	}
	path := append(append([]byte{}, pathBelpic...), 0x50, fid)
	return der(0x30,
		commonObject(label, false),
		der(0x30, attrs...),
		der(0xA1, der(0x30, der(0x30, der(0x04, path)))),
	)
}

// efCDF is 5037: certificates Authentication (02 → 5038), Signature (03 →
// 5039), CA (04 → 503A) and Root (06 → 503B); the RRN certificate has no
// entry. A missing certificate loses its entry and the file is zero-filled
// at the end (ref §3.2).
func efCDF(auth, sign, ca, root bool) []byte {
	es := []entry{
		{cdfEntry("Authentication", 0x02, false, 0x38), auth},
		{cdfEntry("Signature", 0x03, false, 0x39), sign},
		{cdfEntry("CA", 0x04, true, 0x3A), ca},
		{cdfEntry("Root", 0x06, true, 0x3B), root},
	}
	full := 0
	for _, e := range es {
		full += len(e.b)
	}
	return keepPresent(full, es...)
}

type entry struct {
	b       []byte
	present bool
}

func keepPresent(size int, es ...entry) []byte {
	out := make([]byte, 0, size)
	for _, e := range es {
		if e.present {
			out = append(out, e.b...)
		}
	}
	return append(out, make([]byte, size-len(out))...)
}
