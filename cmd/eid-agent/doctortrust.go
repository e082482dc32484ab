package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/installer"
)

// trustCheck is the doctor's "trust" line: every source of roots the agent
// would use (the embedded production roots, the eID middleware's and the
// agent's trust folders found on this machine, the configuration's
// trust_roots) with how many roots each gave, then each embedded root with
// the SHA-256 of its DER, so a help desk can compare them with the
// published fingerprints. A trust folder file that does not parse or a
// trust_roots file that cannot be read is a WARN: the agent still starts
// on the rest for the former, and refuses to start for the latter.
func trustCheck(trustRoots []string) installer.Check {
	return installer.Check{Name: "trust", Run: func(context.Context) installer.Result {
		store, dirErr := eidfile.SystemTrustStore()
		var errs []error
		if dirErr != nil {
			errs = append(errs, dirErr)
		}
		for _, f := range trustRoots {
			if err := store.AddFile(f); err != nil {
				errs = append(errs, fmt.Errorf("trust_roots: %w", err))
			}
		}
		r := installer.Result{Status: installer.OK, Detail: trustDetail(store)}
		if err := errors.Join(errs...); err != nil {
			r.Status = installer.Warn
			r.Detail = oneLineErr(err) + "; " + r.Detail
			r.Fix = "remove or replace the file named (PEM or DER certificates only)"
		}
		return r
	}}
}

// trustDetail: "sources: embedded (7 roots), DIR (1 root); embedded roots:
// NAME until DATE SHA-256 HEX, ...".
func trustDetail(s *eidfile.TrustStore) string {
	var src, emb []string
	for _, ts := range s.Sources() {
		n := fmt.Sprintf("%d roots", len(ts.Roots))
		if len(ts.Roots) == 1 {
			n = "1 root"
		}
		src = append(src, fmt.Sprintf("%s (%s)", ts.Name, n))
		if ts.Name != eidfile.EmbeddedSource {
			continue
		}
		for _, c := range ts.Roots {
			emb = append(emb, fmt.Sprintf("%s until %s SHA-256 %s", c.Subject.CommonName, c.NotAfter.UTC().Format(time.DateOnly), eidfile.Fingerprint(c)))
		}
	}
	return "sources: " + strings.Join(src, ", ") + "; embedded roots: " + strings.Join(emb, ", ")
}

func oneLineErr(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
