package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/internal/carderr"
)

// Code is a stable error code of the protocol. Clients switch on it; the
// messages are for people and may change.
type Code string

// The protocol's error codes (docs/protocol.md, "Errors").
const (
	CodeOriginNotAllowed   Code = "ORIGIN_NOT_ALLOWED"
	CodeHostNotAllowed     Code = "HOST_NOT_ALLOWED"
	CodeUnauthorized       Code = "UNAUTHORIZED"
	CodeOtherUser          Code = "OTHER_USER"
	CodeTooManyConnections Code = "TOO_MANY_CONNECTIONS"
	CodeBadRequest         Code = "BAD_REQUEST"
	CodeHelloRequired      Code = "HELLO_REQUIRED"
	CodeUnsupportedVersion Code = "UNSUPPORTED_PROTOCOL"
	CodeUnknownType        Code = "UNKNOWN_TYPE"
	CodeTooLarge           Code = "TOO_LARGE"
	CodeRateLimited        Code = "RATE_LIMITED"
	CodeNoReader           Code = "NO_READER"
	CodeReaderNotFound     Code = "READER_NOT_FOUND"
	CodeAmbiguousReader    Code = "AMBIGUOUS_READER"
	CodeNoCard             Code = "NO_CARD"
	CodeCardRemoved        Code = "CARD_REMOVED"
	CodeNotBelpic          Code = "NOT_BELPIC"
	CodeNoKey              Code = "NO_KEY"
	CodePINWrong           Code = "PIN_WRONG"
	CodePINBlocked         Code = "PIN_BLOCKED"
	CodePINCancelled       Code = "PIN_CANCELLED"
	CodePINTimeout         Code = "PIN_TIMEOUT"
	CodeBusyTimeout        Code = "BUSY_TIMEOUT"
	CodeConsentDenied      Code = "CONSENT_DENIED"
	CodeCancelled          Code = "CANCELLED"
	CodeInternal           Code = "INTERNAL"
)

// Messages holds one message per protocol language.
type Messages struct {
	EN string `json:"en"`
	NL string `json:"nl"`
	FR string `json:"fr"`
	DE string `json:"de"`
}

// catalog: every code has a message in the four languages; a test keeps it
// complete.
var catalog = map[Code]Messages{
	CodeOriginNotAllowed:   {"This web site is not allowed to use the eID agent.", "Deze website mag de eID-agent niet gebruiken.", "Ce site web n'est pas autorisé à utiliser l'agent eID.", "Diese Website darf den eID-Agenten nicht verwenden."},
	CodeHostNotAllowed:     {"The request did not address the agent on this computer.", "Het verzoek was niet gericht aan de agent op deze computer.", "La demande ne s'adressait pas à l'agent de cet ordinateur.", "Die Anfrage war nicht an den Agenten auf diesem Computer gerichtet."},
	CodeUnauthorized:       {"The application token is missing or wrong.", "Het toepassingstoken ontbreekt of is onjuist.", "Le jeton d'application est absent ou incorrect.", "Das Anwendungstoken fehlt oder ist falsch."},
	CodeOtherUser:          {"The connection comes from another user of this computer.", "De verbinding komt van een andere gebruiker van deze computer.", "La connexion provient d'un autre utilisateur de cet ordinateur.", "Die Verbindung stammt von einem anderen Benutzer dieses Computers."},
	CodeTooManyConnections: {"Too many connections to the eID agent.", "Te veel verbindingen met de eID-agent.", "Trop de connexions à l'agent eID.", "Zu viele Verbindungen zum eID-Agenten."},
	CodeBadRequest:         {"The request is malformed.", "Het verzoek is ongeldig.", "La demande est mal formée.", "Die Anfrage ist fehlerhaft."},
	CodeHelloRequired:      {"Send hello first.", "Stuur eerst hello.", "Envoyez d'abord hello.", "Senden Sie zuerst hello."},
	CodeUnsupportedVersion: {"This protocol version is not supported.", "Deze protocolversie wordt niet ondersteund.", "Cette version du protocole n'est pas prise en charge.", "Diese Protokollversion wird nicht unterstützt."},
	CodeUnknownType:        {"Unknown request type.", "Onbekend soort verzoek.", "Type de demande inconnu.", "Unbekannter Anfragetyp."},
	CodeTooLarge:           {"The message is too large.", "Het bericht is te groot.", "Le message est trop volumineux.", "Die Nachricht ist zu groß."},
	CodeRateLimited:        {"Too many requests; slow down.", "Te veel verzoeken; vertraag.", "Trop de demandes ; ralentissez.", "Zu viele Anfragen; bitte langsamer."},
	CodeNoReader:           {"No card reader was found.", "Er is geen kaartlezer gevonden.", "Aucun lecteur de carte n'a été trouvé.", "Es wurde kein Kartenleser gefunden."},
	CodeReaderNotFound:     {"The named card reader does not exist.", "De genoemde kaartlezer bestaat niet.", "Le lecteur de carte indiqué n'existe pas.", "Der angegebene Kartenleser existiert nicht."},
	CodeAmbiguousReader:    {"Several readers hold a card; choose one.", "Meerdere lezers bevatten een kaart; kies er een.", "Plusieurs lecteurs contiennent une carte ; choisissez-en un.", "Mehrere Leser enthalten eine Karte; wählen Sie einen aus."},
	CodeNoCard:             {"There is no card in the reader.", "Er zit geen kaart in de lezer.", "Il n'y a pas de carte dans le lecteur.", "Im Leser befindet sich keine Karte."},
	CodeCardRemoved:        {"The card was removed.", "De kaart werd verwijderd.", "La carte a été retirée.", "Die Karte wurde entfernt."},
	CodeNotBelpic:          {"The card is not a Belgian eID card.", "De kaart is geen Belgische eID-kaart.", "La carte n'est pas une carte eID belge.", "Die Karte ist keine belgische eID-Karte."},
	CodeNoKey:              {"The card has no key for this operation.", "De kaart heeft geen sleutel voor deze bewerking.", "La carte n'a pas de clé pour cette opération.", "Die Karte hat keinen Schlüssel für diesen Vorgang."},
	CodePINWrong:           {"The PIN is wrong.", "De pincode is onjuist.", "Le code PIN est incorrect.", "Die PIN ist falsch."},
	CodePINBlocked:         {"The PIN is blocked.", "De pincode is geblokkeerd.", "Le code PIN est bloqué.", "Die PIN ist gesperrt."},
	CodePINCancelled:       {"PIN entry was cancelled.", "Het invoeren van de pincode werd geannuleerd.", "La saisie du code PIN a été annulée.", "Die PIN-Eingabe wurde abgebrochen."},
	CodePINTimeout:         {"PIN entry timed out.", "De tijd voor het invoeren van de pincode is verstreken.", "Le délai de saisie du code PIN a expiré.", "Die Zeit für die PIN-Eingabe ist abgelaufen."},
	CodeBusyTimeout:        {"The card reader stayed busy too long.", "De kaartlezer bleef te lang bezet.", "Le lecteur de carte est resté occupé trop longtemps.", "Der Kartenleser war zu lange belegt."},
	CodeConsentDenied:      {"The user did not allow this site to do this.", "De gebruiker heeft deze website dit niet toegestaan.", "L'utilisateur n'a pas autorisé ce site à faire cela.", "Der Benutzer hat dieser Website dies nicht erlaubt."},
	CodeCancelled:          {"The operation was cancelled.", "De bewerking werd geannuleerd.", "L'opération a été annulée.", "Der Vorgang wurde abgebrochen."},
	CodeInternal:           {"Internal error in the eID agent.", "Interne fout in de eID-agent.", "Erreur interne de l'agent eID.", "Interner Fehler im eID-Agenten."},
}

// Error is a protocol error: what goes in a response's "error" member and
// in a refused handshake's body.
type Error struct {
	Code     Code     `json:"code"`
	Message  string   `json:"message"`
	Messages Messages `json:"messages"`
	// Retries left after PIN_WRONG; omitted otherwise.
	Retries *int `json:"retries,omitempty"`
	// Detail is technical context for logs and developers (English, not
	// localised, never personal data).
	Detail string `json:"detail,omitempty"`
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%s: %s", e.Code, e.Detail)
	}
	return string(e.Code)
}

// NewError builds the Error for code with its catalogue messages; detail
// (may be empty) says what exactly was wrong.
func NewError(code Code, detail string) *Error {
	m, ok := catalog[code]
	if !ok {
		code, m = CodeInternal, catalog[CodeInternal]
	}
	return &Error{Code: code, Message: m.EN, Messages: m, Detail: detail}
}

// ErrorOf maps what a Backend returned to a protocol error. Backends may
// return *Error directly, or the card layer's errors; anything unknown is
// INTERNAL, with no detail, so internal messages never reach a page. The
// agent uses it to name outcomes in its audit journal.
func ErrorOf(err error) *Error { return toError(err) }

func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var pe *carderr.PINError
	switch {
	case errors.As(err, &pe):
		r := pe.Retries
		e := NewError(CodePINWrong, "")
		if r >= 0 {
			e.Retries = &r
		}
		return e
	case errors.Is(err, carderr.ErrPINBlocked):
		return NewError(CodePINBlocked, "")
	case errors.Is(err, carderr.ErrPINCancelled):
		return NewError(CodePINCancelled, "")
	case errors.Is(err, carderr.ErrPINTimeout):
		return NewError(CodePINTimeout, "")
	case errors.Is(err, carderr.ErrNoReader):
		return NewError(CodeNoReader, "")
	case errors.Is(err, carderr.ErrReaderNotFound):
		return NewError(CodeReaderNotFound, "")
	case errors.Is(err, carderr.ErrAmbiguousReader):
		return NewError(CodeAmbiguousReader, "")
	case errors.Is(err, carderr.ErrNoCard):
		return NewError(CodeNoCard, "")
	case errors.Is(err, carderr.ErrCardRemoved):
		return NewError(CodeCardRemoved, "")
	case errors.Is(err, carderr.ErrUnsupportedCard):
		return NewError(CodeNotBelpic, "")
	case errors.Is(err, carderr.ErrNoKey):
		return NewError(CodeNoKey, "")
	case errors.Is(err, ErrConsentDenied):
		return NewError(CodeConsentDenied, "")
	case errors.Is(err, webeid.ErrInvalidNonce), errors.Is(err, webeid.ErrInvalidOrigin):
		return NewError(CodeBadRequest, err.Error())
	case errors.Is(err, context.Canceled):
		return NewError(CodeCancelled, "")
	case errors.Is(err, context.DeadlineExceeded):
		return NewError(CodeBusyTimeout, "")
	}
	return NewError(CodeInternal, "")
}
