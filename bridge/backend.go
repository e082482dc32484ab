package bridge

import (
	"context"
	"encoding/json"

	"github.com/eid-agent/eid-agent/bridge/webeid"
)

// Backend carries out the card operations. The agent implements it: it
// owns the readers, queues requests per reader (a second request for a
// busy reader waits, with a timeout that ends in BUSY_TIMEOUT), shows PIN
// dialogs and reports progress through the Progress function in ctx.
//
// Every ctx is cancelled when the client disconnects. Errors may be
// *Error or the card package's errors; anything else becomes INTERNAL.
type Backend interface {
	Readers(ctx context.Context) ([]ReaderInfo, error)
	// Subscribe streams reader and card events until ctx ends. Events
	// carry no personal data.
	Subscribe(ctx context.Context) (<-chan CardEvent, error)
	// Read returns, for each requested field, its JSON value (the member
	// of the Reading JSON of docs/reading-json.md with that name). The
	// bridge drops anything not requested.
	Read(ctx context.Context, req ReadRequest) (map[string]json.RawMessage, error)
	// Authenticate makes a Web eID token with the authentication key
	// (normally through webeid.Create). Origin is the one the bridge saw
	// on the handshake and Nonce is already validated.
	Authenticate(ctx context.Context, req AuthenticateRequest) (*webeid.Token, error)
	SigningCertificate(ctx context.Context, req SigningCertificateRequest) (*SigningCertificateResult, error)
	Sign(ctx context.Context, req SignRequest) (*SignResult, error)
	// ReadingProof reads the card and returns the reading-proof record
	// (docs/isi-and-proofs.md) with the members of the Reading JSON asked
	// for; the bridge adds the origin and nonce and drops anything not
	// asked for.
	ReadingProof(ctx context.Context, req ReadingProofRequest) (*ReadingProofResult, error)
}

// InstantReaders is implemented by backends that can often list the
// readers from memory (the agent's reader monitor). The bridge then
// answers readers in its read loop, without a goroutine per request; when
// ReadersNow reports false it takes the normal path (Readers).
type InstantReaders interface {
	ReadersNow() ([]ReaderInfo, bool)
}

// CardKind is what a reader holds, in ReaderInfo and CardEvent.
type CardKind string

// Kinds of card a reader can hold.
const (
	CardNone    CardKind = "none"    // no card
	CardBELPIC  CardKind = "belpic"  // a Belgian eID (BELPIC applet)
	CardUnknown CardKind = "unknown" // some other card
)

// ReaderInfo describes one reader; no personal data.
type ReaderInfo struct {
	Name          string   `json:"name"`
	Card          CardKind `json:"card"` // CardNone, CardBELPIC or CardUnknown
	AppletVersion string   `json:"appletVersion,omitempty"`
	PINPad        bool     `json:"pinPad"`
}

// CardEventType is the kind of a CardEvent: the name of the event a
// subscribed client receives.
type CardEventType string

// Kinds of CardEvent.
const (
	EventReaderAdded   CardEventType = "reader-added"
	EventReaderRemoved CardEventType = "reader-removed"
	EventCardInserted  CardEventType = "card-inserted"
	EventCardRemoved   CardEventType = "card-removed"
	// EventServiceDown and EventServiceUp: the PC/SC service stopped (or
	// is not running) and came back; they name no reader.
	EventServiceDown CardEventType = "service-down"
	EventServiceUp   CardEventType = "service-up"
)

// CardEvent is a reader or card change.
type CardEvent struct {
	Type   CardEventType `json:"-"`
	Reader string        `json:"reader,omitempty"`
	// Card is set on card-inserted: CardBELPIC or CardUnknown.
	Card CardKind `json:"card,omitempty"`
}

// Caller says who asked, as the bridge established it: a web origin
// (from the Origin header) or a desktop application (from its token).
type Caller struct {
	Origin string // "https://app.example:8443"; empty for desktop apps
	App    string // desktop application name; empty for web origins
}

// String is the consent subject: the origin, or "app:NAME".
func (c Caller) String() string {
	if c.Origin != "" {
		return c.Origin
	}
	return "app:" + c.App
}

type ReadRequest struct {
	Caller Caller   `json:"-"`
	Reader string   `json:"reader,omitempty"`
	Fields []string `json:"fields"`
}

type AuthenticateRequest struct {
	Caller Caller `json:"-"`
	Origin string `json:"-"` // the handshake Origin; never from params
	Reader string `json:"reader,omitempty"`
	Nonce  string `json:"nonce"`
}

type SigningCertificateRequest struct {
	Caller Caller `json:"-"`
	Reader string `json:"reader,omitempty"`
}

// SignatureAlgorithm names a signature the card can make, as Web eID
// reports them.
type SignatureAlgorithm struct {
	CryptoAlgorithm string `json:"cryptoAlgorithm"` // "ECC" or "RSA"
	HashFunction    string `json:"hashFunction"`    // "SHA-256", ...
	PaddingScheme   string `json:"paddingScheme"`   // "NONE", "PKCS1.5", "PSS"
}

type SigningCertificateResult struct {
	Certificate                  string               `json:"certificate"` // base64 DER
	SupportedSignatureAlgorithms []SignatureAlgorithm `json:"supportedSignatureAlgorithms"`
}

// SignRequest signs a hash the caller computed with the signing
// (non-repudiation) key. The authentication key is never used for raw
// hashes: only Authenticate uses it.
type SignRequest struct {
	Caller       Caller `json:"-"`
	Reader       string `json:"reader,omitempty"`
	Certificate  string `json:"certificate"`  // base64 DER, must be the card's signing certificate
	Hash         string `json:"hash"`         // base64
	HashFunction string `json:"hashFunction"` // "SHA-256", "SHA-384", "SHA-512", ...
	HashBytes    []byte `json:"-"`            // decoded, length checked
}

type SignResult struct {
	Signature          string             `json:"signature"` // base64; ECDSA raw r||s
	SignatureAlgorithm SignatureAlgorithm `json:"signatureAlgorithm"`
}

// ReadingProofResult is a reading proof and the reading it records.
type ReadingProofResult struct {
	Proof   json.RawMessage            `json:"proof"`
	Origin  string                     `json:"origin"`
	Nonce   string                     `json:"nonce"`
	Reading map[string]json.RawMessage `json:"reading"`
}

type ReadingProofRequest struct {
	Caller Caller   `json:"-"`
	Origin string   `json:"-"`
	Reader string   `json:"reader,omitempty"`
	Nonce  string   `json:"nonce"`
	Fields []string `json:"fields"`
}
