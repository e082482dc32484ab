package eidfile

// Files holds the card's files exactly as read (ref §3.1). Certificate files
// may carry their zero padding; Decode trims them to their DER length. A nil
// field is a file the card does not have or that was not read.
type Files struct {
	ATR      []byte // answer to reset
	CardData []byte // GET CARD DATA response, P2=00 (28 bytes on 1.7/1.8) (ref §5)

	Identity          []byte // 3F00/DF01/4031
	IdentitySignature []byte // 3F00/DF01/4032
	Address           []byte // 3F00/DF01/4033, zero-padded
	AddressSignature  []byte // 3F00/DF01/4034
	Photo             []byte // 3F00/DF01/4035 (JPEG)
	BasicKey          []byte // 3F00/DF01/4040, applet 1.8 only (DER SubjectPublicKeyInfo)

	AuthCert []byte // 3F00/DF00/5038
	SignCert []byte // 3F00/DF00/5039
	CACert   []byte // 3F00/DF00/503A
	RootCert []byte // 3F00/DF00/503B
	RRNCert  []byte // 3F00/DF00/503C

	// Challenge and ChallengeSignature are the applet 1.8 chip
	// authentication (ref §8.5): random bytes sent with INTERNAL
	// AUTHENTICATE and the raw r||s signature the basic key made over them.
	Challenge          []byte
	ChallengeSignature []byte
}

// Reading is one complete, decoded and verified read of a card. Its JSON form
// is the agent's public contract (see docs/reading-json.md): field names are
// stable; new fields may be added.
type Reading struct {
	Card         CardInfo      `json:"card"`
	Identity     Identity      `json:"identity"`
	Address      *Address      `json:"address,omitempty"`
	Photo        []byte        `json:"photo,omitempty"`       // JPEG; base64 in JSON
	PhotoSHA256  string        `json:"photoSha256,omitempty"` // lowercase hex of the JPEG file
	Certificates *Certificates `json:"certificates,omitempty"`
	Integrity    Integrity     `json:"integrity"`
}

// CardInfo describes the document and the chip.
type CardInfo struct {
	CardNumber          string `json:"cardNumber"`
	ChipNumber          string `json:"chipNumber"` // uppercase hex, identity tag 02
	ValidFrom           string `json:"validFrom"`  // YYYY-MM-DD
	ValidUntil          string `json:"validUntil"` // YYYY-MM-DD
	IssuingMunicipality string `json:"issuingMunicipality"`
	DocumentType        int    `json:"documentType"`            // numeric code of tag 0F (ref §6.1)
	DocumentTypeName    string `json:"documentTypeName"`        // e.g. belgian_citizen, kids_card
	AppletVersion       string `json:"appletVersion,omitempty"` // "1.1", "1.7", "1.8"
	Reader              string `json:"reader,omitempty"`
	ATR                 string `json:"atr,omitempty"` // uppercase hex
	// From GET CARD DATA (ref §5), when the card was read through a reader.
	ComponentCode   string `json:"componentCode,omitempty"`   // hex byte
	OSNumber        string `json:"osNumber,omitempty"`        // hex byte
	OSVersion       string `json:"osVersion,omitempty"`       // hex byte
	SoftmaskNumber  string `json:"softmaskNumber,omitempty"`  // hex byte
	SoftmaskVersion string `json:"softmaskVersion,omitempty"` // hex byte
	LifeCycle       string `json:"lifeCycle,omitempty"`       // hex byte, 0F = personalised
	// PKI tells which key family the National Register used for this card:
	// "rsa" or "ec" (a 1.7 card re-keyed to the EC PKI says "ec").
	PKI string `json:"pki,omitempty"`
}

// Identity is the holder's identity (file 4031, ref §4.2). Optional
// foreigner, work-permit, Brexit and card-A fields are omitted when the card
// does not carry them.
type Identity struct {
	NationalNumber string `json:"nationalNumber"`
	Surname        string `json:"surname"`
	FirstNames     string `json:"firstNames"`
	ThirdInitial   string `json:"thirdInitial"`
	Nationality    string `json:"nationality"`
	BirthPlace     string `json:"birthPlace"`
	// BirthDate is YYYY-MM-DD, or YYYY-MM / YYYY when the card holds only
	// part of it (ref §4.4).
	BirthDate      string `json:"birthDate"`
	Gender         string `json:"gender"` // "male" or "female"
	NobleCondition string `json:"nobleCondition"`
	// SpecialStatus is "none", "white_cane", "extended_minority",
	// "white_cane_extended_minority", "yellow_cane" or
	// "yellow_cane_extended_minority" (ref §6.2).
	SpecialStatus string `json:"specialStatus"`
	Duplicate     string `json:"duplicate,omitempty"`
	PhotoHash     string `json:"photoHash,omitempty"` // lowercase hex, tag 11

	// Tags 13-1F: foreigner cards, work-permit cards, Brexit and card A.
	SpecialOrganisation        string `json:"specialOrganisation,omitempty"` // shape, nato, old_european_blue_card, researcher
	MemberOfFamily             bool   `json:"memberOfFamily,omitempty"`
	DateAndCountryOfProtection string `json:"dateAndCountryOfProtection,omitempty"` // as on the card: dd.MM.yyyy-CC
	WorkPermit                 string `json:"workPermit,omitempty"`                 // unlimited, limited, none, seasonal_worker
	EmployerVAT1               string `json:"employerVat1,omitempty"`
	EmployerVAT2               string `json:"employerVat2,omitempty"`
	RegionalFileNumber         string `json:"regionalFileNumber,omitempty"`
	BasicKeyHash               string `json:"basicKeyHash,omitempty"` // lowercase hex, tag 1A (1.8)
	BrexitMention1             string `json:"brexitMention1,omitempty"`
	BrexitMention2             string `json:"brexitMention2,omitempty"`
	CardAMention1              string `json:"cardAMention1,omitempty"`
	CardAMention2              string `json:"cardAMention2,omitempty"`
	EUStartDate                string `json:"euStartDate,omitempty"` // YYYY-MM-DD, tag 1F
}

// Address is the holder's main residence (file 4033, ref §4.3).
type Address struct {
	StreetAndNumber string `json:"streetAndNumber"`
	Zip             string `json:"zip"`
	Municipality    string `json:"municipality"`
}

// Certificates holds the DER certificates of the card (base64 in JSON).
// A certificate the card does not have is nil (and absent from JSON).
type Certificates struct {
	Authentication []byte `json:"authentication,omitempty"`
	Signing        []byte `json:"signing,omitempty"`
	CA             []byte `json:"ca,omitempty"`
	Root           []byte `json:"root,omitempty"`
	RRN            []byte `json:"rrn,omitempty"`
}

// Integrity verdicts.
const (
	Valid     = "valid"
	Invalid   = "invalid"
	Missing   = "missing"
	Trusted   = "trusted"
	Untrusted = "untrusted"
)

// Integrity is the outcome of Verify. A verdict other than "valid" /
// "trusted" comes with the reason in the matching *Detail field.
type Integrity struct {
	Identity       string `json:"identity"`
	IdentityDetail string `json:"identityDetail,omitempty"`
	Address        string `json:"address"`
	AddressDetail  string `json:"addressDetail,omitempty"`
	Photo          string `json:"photo"`
	PhotoDetail    string `json:"photoDetail,omitempty"`
	// BasicKey is the 1.8 basic public key against identity tag 1A; absent
	// on cards that have none.
	BasicKey       string `json:"basicKey,omitempty"`
	BasicKeyDetail string `json:"basicKeyDetail,omitempty"`
	// ChipAuthentication is the 1.8 basic key's signature over a fresh
	// challenge: the chip holds the key the National Register signed for,
	// so the data was not copied onto another chip. Absent when not run.
	ChipAuthentication       string `json:"chipAuthentication,omitempty"`
	ChipAuthenticationDetail string `json:"chipAuthenticationDetail,omitempty"`
	RRNChain                 string `json:"rrnChain"`
	RRNChainDetail           string `json:"rrnChainDetail,omitempty"`
	// Check digits of the national number (SSIN) and of the card number.
	NationalNumber       string `json:"nationalNumber"`
	NationalNumberDetail string `json:"nationalNumberDetail,omitempty"`
	CardNumber           string `json:"cardNumber"`
	CardNumberDetail     string `json:"cardNumberDetail,omitempty"`
}
