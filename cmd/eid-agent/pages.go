package main

import (
	"bytes"
	"crypto/x509"
	"net/http"

	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/web"
)

// pages is what `run` serves beside /ws (bridge.Config.Pages): the demo
// page and the JS client of package web. Its /demo/verify validates Web
// eID tokens against the agent's own trust store: self-signed
// certificates are the roots, any other certificate in it (a Citizen CA
// given with --trust-root, the simulator's test CAs) only completes
// chains, because the token carries the user certificate alone.
func pages(trust *eidfile.TrustStore) http.Handler {
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	if trust != nil {
		for _, c := range trust.Roots() {
			if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
				roots.AddCert(c)
			} else {
				inters.AddCert(c)
			}
		}
	}
	return web.Handler(web.Options{Roots: roots, Intermediates: inters})
}
