package verify_test

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/verify"
)

// A counter's server: the page gets a nonce, asks the agent to attest
// (agent.attest(nonce, ["identity", "photo"])) and posts the attestation
// back; the server learns who is at the desk, with the card present, no
// PIN. docs/verify.md shows the same lines.
func ExampleAttestationVerifier() {
	nonces := &verify.MemoryNonceStore{}
	av := &verify.AttestationVerifier{Trust: eidfile.DefaultTrustStore(), Nonces: nonces, RequirePresent: true}
	http.HandleFunc("POST /nonce", func(w http.ResponseWriter, r *http.Request) {
		n, _ := nonces.Issue() // also keep n in the caller's session
		json.NewEncoder(w).Encode(map[string]string{"nonce": n})
	})
	http.HandleFunc("POST /attestation", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, verify.MaxAttestationSize))
		n := r.Header.Get("X-Nonce") // in production: the nonce of this session
		res, err := av.VerifyAttestation(body, "https://counter.example", n)
		if err != nil {
			http.Error(w, verify.ErrorCode(err), http.StatusForbidden) // WRONG_CARD, DOWNGRADE, ...
			return
		}
		json.NewEncoder(w).Encode(res.Identity.Reading.Identity) // genuine, present, bound
	})
}
