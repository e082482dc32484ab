// Package pkcs signs with a Belgian eID card through a PKCS#11 module: the
// Belgian middleware's (libbeidpkcs11) or OpenSC's. Each card key is a
// crypto.Signer (Key), usable by crypto/x509, crypto/tls and the agent's
// authentication flow, like the APDU path of package card.
//
// # Finding the module
//
// Discover looks for the Belgian middleware at its usual install paths, then
// for OpenSC (discover_<os>.go hold the lists). A path given explicitly
// (--module, configuration) wins and is the only one tried: a person who
// names a module wants that one, and silently falling back to another
// vendor's module would sign through code they did not choose. A configured
// path that does not exist is an error, not a reason to look elsewhere.
// Discovery reports the chosen path, why (its Kind) and every path looked
// at, for logs and `eid-agent readers`.
//
// # One module per process
//
// A PKCS#11 module keeps process-wide state: C_Initialize may be called once
// per process, and C_Finalize ends it for every user at once. Open therefore
// goes through a registry keyed by the module's real path (symlinks
// resolved, since the dynamic loader hands two names of one file the same
// handle): the first Open loads and initialises the module, later ones
// share it, and the last Close logs out, closes the sessions, calls
// C_Finalize and unloads it. A module another part of the process already
// initialised (CKR_CRYPTOKI_ALREADY_INITIALIZED) is used but never
// finalised by us.
//
// # Concurrency and timeouts
//
// A Module and its Keys are safe for concurrent use. Operations on one token
// are serialised (one session per slot, one operation at a time): a card
// does one thing at a time, and PKCS#11 allows a single active signing
// operation per session. Different slots work in parallel.
//
// PKCS#11 calls cannot be cancelled. Each call runs on its own goroutine and
// the caller waits at most Options.CallTimeout (Options.LoginTimeout for a
// login on a PIN-pad reader, where a person types) or until its context
// ends. A timeout (ErrTimeout) therefore means "we stopped waiting", not
// "the card stopped": the call goes on in the background, the slot stays
// locked until it returns, and its session is then closed so the next
// operation starts from a clean state. A call that never returns keeps its
// slot busy (later operations give up after Options.BusyTimeout) and keeps
// the module loaded at Close.
//
// # Card removal
//
// CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT, CKR_SESSION_HANDLE_INVALID and
// CKR_SESSION_CLOSED match card.ErrCardRemoved. So does a device or general
// error after which the slot stops reporting a token within 1.5 s: OpenSC
// answers CKR_GENERAL_ERROR to a card pulled out mid-signature, and the
// PC/SC layer notices the empty reader only at its next presence poll. The
// slot's session is dropped and the slot queried until the module has seen
// the removal, so the next Key or Sign opens a new session on whatever card
// is inserted: re-inserting the card is enough to recover (the PIN is asked
// again, as the card forgot it). A Key refuses to sign with a different
// card (another token serial) than its own: ErrCardChanged.
//
// # Slots and readers
//
// Modules name a slot after its PC/SC reader (the slot description, blank
// padded or cut at 64 bytes), so SlotForReader takes the reader name package
// card uses; a token label also matches, which is how SoftHSM tokens are
// addressed in tests.
//
// # Keys
//
// Keys and certificates are found by the card's labels ("Authentication",
// "Signature") and IDs (02, 03), never by position. The certificate gives the
// public key. The hash is always computed by the caller: PKCS#1 v1.5 is
// CKM_RSA_PKCS over a DigestInfo built here, PSS is CKM_RSA_PKCS_PSS (only
// when the token lists it), ECDSA is CKM_ECDSA over the digest with the
// token's r‖s converted to ASN.1 DER. A module that shows certificates only
// after login (OpenSC does so for the Belpic card, whose CDF marks them
// private) makes Key ask for the PIN; the login is then reused.
//
// # PIN
//
// A token with a PIN pad (CKF_PROTECTED_AUTHENTICATION_PATH) gets a login
// without a PIN and the reader asks. Otherwise the card.PINPrompt is called
// — after checking the token's flags, so a blocked PIN is reported without a
// dialog — and the PIN is wiped right after use; a PIN is never logged and
// never retried: a wrong PIN is a *card.PINError, a blocked one
// card.ErrPINBlocked, and the prompt is not shown again by this package.
// PKCS#11 tells tries left only through flags: PINError.Retries and
// PINRequest.Retries are 0 (locked), 1 (final try), 2 ("count low", read
// with the eID's three tries in mind). OpenSC's flags with the Belpic card
// say nothing after a first wrong PIN (then 1, then 0); where the flags are
// silent the count is read from the card itself, on applets that give it
// without spending a try (cardtries.go), so three wrong PINs in a row
// report 2, 1, blocked. -1 is left where neither tells (applet 1.1).
//
// The authentication key logs in once (CKU_USER) and the login is reused by
// later signatures. A key with CKA_ALWAYS_AUTHENTICATE (the non-repudiation
// key) gets a context-specific login after every C_SignInit. When the
// session is not logged in yet, such a signature asks the PIN once and uses
// it for both logins (CKU_USER then CKU_CONTEXT_SPECIFIC), then logs out
// again: a PIN typed to sign a document must not leave the card open for
// silent authentication signatures afterwards.
//
// miekg/pkcs11 takes the PIN as a Go string and copies it into C memory that
// it frees without clearing. This package hands it a string sharing the
// bytes of a private copy of the PIN, wiped as soon as C_Login returned; the
// C copy is out of reach.
// A PIN-pad login passes an empty PIN (miekg/pkcs11 cannot pass NULL), which
// OpenSC treats as "ask the reader" (not checked with the Belgian
// middleware, which is not installed on the test machines).
package pkcs
