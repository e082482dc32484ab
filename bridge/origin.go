package bridge

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/eid-agent/eid-agent/bridge/webeid"
)

// ValidateOrigin checks an allow-list entry: it must be a string a
// browser can send as Origin, because the handshake compares the two
// byte for byte and an entry no browser ever sends is a silent "allow
// nothing". On top of webeid.ValidateOrigin (scheme://host[:port], lower
// case, no path, a port without leading zeros):
//
//   - the scheme is http or https (browsers never send wss://);
//   - no default port (https://app.example:443 arrives as
//     https://app.example);
//   - no trailing dot in the host;
//   - IP literals in the form the URL standard serialises them: dotted
//     decimal IPv4 (a host ending in a number is parsed as IPv4 by
//     browsers, so 2130706433 or 0x7f.1 is never sent), compressed IPv6
//     without zone or embedded IPv4.
//
// `eid-agent config check`, `run` (bridge.New) and `doctor` all use it.
func ValidateOrigin(origin string, allowHTTPLoopback bool) error {
	if err := webeid.ValidateOrigin(origin, webeid.OriginOptions{AllowHTTPLoopback: allowHTTPLoopback}); err != nil {
		return err
	}
	u, err := url.Parse(origin)
	if err != nil {
		return fmt.Errorf("%w: %v", webeid.ErrInvalidOrigin, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %q: %s", webeid.ErrInvalidOrigin, origin, fmt.Sprintf(format, a...))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("browsers send http:// or https:// origins, never %s://", u.Scheme)
	case u.Scheme == "https" && u.Port() == "443", u.Scheme == "http" && u.Port() == "80":
		return bad("browsers leave the default port out: write %s://%s", u.Scheme, u.Hostname())
	}
	host := u.Hostname()
	if strings.HasSuffix(host, ".") {
		return bad("a host with a trailing dot is never what a browser sends")
	}
	if strings.HasPrefix(u.Host, "[") {
		a, err := netip.ParseAddr(host)
		switch {
		case err != nil, !a.Is6(), a.Zone() != "":
			return bad("not an IPv6 literal a browser sends")
		case a.Is4In6():
			return bad("IPv4-mapped IPv6 literals are not supported; use the IPv4 address")
		case a.String() != host:
			return bad("browsers write this address [%s]", a)
		}
		return nil
	}
	labels := strings.Split(host, ".")
	if last := labels[len(labels)-1]; endsInNumber(last) {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is4() || a.String() != host {
			return bad("a host ending in a number is read as an IPv4 address by browsers; write it in dotted decimal")
		}
	}
	return nil
}

// endsInNumber is the URL standard's test of the last label of a host
// that makes the whole host an IPv4 address: all digits, or 0x followed
// by hex digits.
func endsInNumber(label string) bool {
	if label == "" {
		return false
	}
	if rest, ok := strings.CutPrefix(strings.ToLower(label), "0x"); ok {
		for _, c := range rest {
			if !isHex(byte(c)) || c > 0x7f {
				return false
			}
		}
		return true
	}
	for _, c := range label {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
