package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/agent/pinentry"
)

// keySigner is what both signing paths give: a crypto.Signer with its
// certificate and the JOSE name of a signature.
type keySigner interface {
	crypto.Signer
	Certificate() *x509.Certificate
	Algorithm(opts crypto.SignerOpts) (string, error)
}

type signOutput struct {
	Algorithm   string `json:"algorithm"`
	Signature   []byte `json:"signature"`   // base64; ASN.1 DER for ECDSA
	Certificate []byte `json:"certificate"` // base64 DER
	Path        string `json:"path"`        // "pkcs11" or "apdu"
	Module      string `json:"module,omitempty"`
}

var hashes = map[string]crypto.Hash{"sha1": crypto.SHA1, "sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512}

func runSign(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("sign", stderr)
	keyName := fs.String("key", "auth", "`KEY` to sign with: auth or signing (the qualified signature key)")
	hashName := fs.String("hash", "", "`HASH` of the data: sha256, sha384, sha512 or sha1 (default sha384 for EC keys, sha256 for RSA)")
	in := fs.String("in", "", "sign the contents of `FILE` (hashed here, never on the card)")
	digestHex := fs.String("digest", "", "sign this precomputed digest (`HEX`) instead of --in")
	pss := fs.Bool("pss", false, "RSA-PSS instead of PKCS#1 v1.5 (applet 1.7 RSA cards; SHA-1 or SHA-256)")
	reader := fs.String("reader", "", "reader `NAME` or number; default: the only reader holding a card")
	asJSON := fs.Bool("json", false, "print JSON")
	pinStdin := fs.Bool("pin-stdin", false, "read the PIN from standard input (one line per PIN asked) instead of a dialog")
	path := fs.String("path", "auto", "signing `PATH`: auto, pkcs11 or apdu")
	module := fs.String("module", "", "PKCS#11 module `FILE` (default: the Belgian middleware's, then OpenSC's)")
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	role, err := parseRole(*keyName)
	if err != nil {
		fmt.Fprintln(stderr, "eid-agent sign:", err)
		return exitUsage
	}
	if (*in == "") == (*digestHex == "") {
		fmt.Fprintln(stderr, "eid-agent sign: give exactly one of --in FILE and --digest HEX")
		return exitUsage
	}
	var digest []byte
	if *digestHex != "" {
		if digest, err = hex.DecodeString(*digestHex); err != nil {
			fmt.Fprintln(stderr, "eid-agent sign: --digest:", err)
			return exitUsage
		}
	}
	var data []byte
	if *in != "" {
		if data, err = os.ReadFile(*in); err != nil {
			return fail(stderr, err)
		}
	}
	prompt, err := pinPrompt(*pinStdin, stderr)
	if err != nil {
		return fail(stderr, err)
	}

	ses, err := openSigner(*path, *module, *reader, role, prompt, stderr)
	if err != nil {
		return fail(stderr, err)
	}
	defer ses.close()
	key := ses.key

	h := crypto.SHA256
	if _, ok := key.Public().(*ecdsa.PublicKey); ok {
		h = crypto.SHA384
	}
	if *hashName != "" {
		var ok bool
		if h, ok = hashes[*hashName]; !ok {
			fmt.Fprintf(stderr, "eid-agent sign: unknown --hash %q\n", *hashName)
			return exitUsage
		}
	}
	var opts crypto.SignerOpts = h
	if *pss {
		if _, ok := key.Public().(*rsa.PublicKey); !ok {
			return fail(stderr, errors.New("--pss needs an RSA key"))
		}
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	}
	if digest == nil {
		hh := h.New()
		hh.Write(data)
		digest = hh.Sum(nil)
	} else if len(digest) != h.Size() {
		return fail(stderr, fmt.Errorf("--digest has %d bytes, %s needs %d", len(digest), h, h.Size()))
	}
	alg, err := key.Algorithm(opts)
	if err != nil {
		return fail(stderr, err)
	}
	sig, err := key.Sign(nil, digest, opts)
	if err != nil {
		return fail(stderr, err)
	}
	out := signOutput{Algorithm: alg, Signature: sig, Certificate: key.Certificate().Raw, Path: ses.path, Module: ses.module}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fail(stderr, err)
		}
		return exitOK
	}
	fmt.Fprintf(stdout, "algorithm:   %s\npath:        %s %s\nsignature:   %s\ncertificate: %s\n", out.Algorithm, out.Path, out.Module,
		base64.StdEncoding.EncodeToString(out.Signature), base64.StdEncoding.EncodeToString(out.Certificate))
	return exitOK
}

func parseRole(s string) (card.KeyRole, error) {
	switch s {
	case "auth", "authentication":
		return card.KeyAuthentication, nil
	case "signing", "sign", "signature", "nonrep":
		return card.KeySigning, nil
	}
	return "", fmt.Errorf("--key must be auth or signing, not %q", s)
}

// pinPrompt picks how the CLI asks the PIN: standard input when asked to,
// the terminal when there is one, else a pinentry program.
func pinPrompt(fromStdin bool, stderr io.Writer) (card.PINPrompt, error) {
	if fromStdin {
		return pinentry.Stdin(os.Stdin), nil
	}
	if pinentry.IsTerminal(os.Stdin) {
		return pinentry.Terminal(os.Stdin, stderr), nil
	}
	prog, err := pinentry.Find()
	if err != nil {
		return nil, err
	}
	return (&pinentry.Dialog{Program: prog}).Prompt, nil
}

// signSession is an open key and what to release after use.
type signSession struct {
	key    keySigner
	path   string
	module string
	close  func()
}

// openSigner opens the key on the chosen path. "auto" prefers the PKCS#11
// module (it is how desktop software signs and it drives PIN pads) and
// falls back to APDUs when no module is installed or the module cannot
// handle the card — before any PIN is asked, so a fallback never costs a
// PIN try.
func openSigner(path, module, reader string, role card.KeyRole, prompt card.PINPrompt, stderr io.Writer) (*signSession, error) {
	ctx, err := card.NewContext()
	if err != nil {
		return nil, err
	}
	name, err := resolveReader(ctx, reader)
	if err != nil {
		ctx.Release()
		return nil, err
	}
	ecCard := false
	if readers, err := ctx.Readers(); err == nil {
		for _, r := range readers {
			ecCard = ecCard || (r.Name == name && r.AppletVersion == "1.8")
		}
	}
	switch path {
	case "pkcs11":
		ctx.Release()
		return openPKCS11(module, name, ecCard, role, prompt)
	case "auto":
		ses, err := openPKCS11(module, name, ecCard, role, prompt)
		if err == nil {
			ctx.Release()
			return ses, nil
		}
		if !errors.Is(err, errPKCS11Unusable) {
			ctx.Release()
			return nil, err
		}
		fmt.Fprintf(stderr, "eid-agent: signing with APDUs: %v\n", err)
	case "apdu":
	default:
		ctx.Release()
		return nil, fmt.Errorf("--path must be auto, pkcs11 or apdu, not %q", path)
	}
	c, err := ctx.Connect(name)
	if err != nil {
		ctx.Release()
		return nil, err
	}
	key, err := c.Key(role, prompt)
	if err != nil {
		c.Close()
		ctx.Release()
		return nil, err
	}
	return &signSession{key: key, path: "apdu", close: func() { c.Close(); ctx.Release() }}, nil
}
