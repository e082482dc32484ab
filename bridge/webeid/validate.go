package webeid

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Input limits of the Web eID application: a nonce must carry at least
// 256 bits, and neither field may be large enough to be abused.
const (
	MinNonceLength   = 44  // characters: 32 bytes in padded base64
	MaxNonceLength   = 128 // characters
	MinNonceBytes    = 32
	MaxOriginLength  = 255
	Format           = "web-eid:1.0"
	defaultAppPrefix = "https://github.com/eid-agent/eid-agent/releases/tag/v"
)

var (
	// ErrInvalidNonce: the challenge nonce is not base64, too short, too
	// long or carries fewer than 32 bytes.
	ErrInvalidNonce = errors.New("invalid challenge nonce")
	// ErrInvalidOrigin: the origin is not scheme://host[:port] with an
	// allowed scheme.
	ErrInvalidOrigin = errors.New("invalid origin")
)

// ValidateNonce checks a server nonce: 44 to 128 characters of standard or
// URL-safe base64 (padded or not) that decode to at least 32 bytes.
func ValidateNonce(nonce string) error {
	if n := len(nonce); n < MinNonceLength || n > MaxNonceLength {
		return fmt.Errorf("%w: %d characters, want %d to %d", ErrInvalidNonce, n, MinNonceLength, MaxNonceLength)
	}
	b, err := decodeBase64(nonce)
	if err != nil {
		return fmt.Errorf("%w: not base64", ErrInvalidNonce)
	}
	if len(b) < MinNonceBytes {
		return fmt.Errorf("%w: %d bytes, want at least %d", ErrInvalidNonce, len(b), MinNonceBytes)
	}
	return nil
}

// decodeBase64 accepts the four common base64 alphabets/paddings: server
// libraries differ (the Java validator issues standard padded base64, other
// back ends use base64url), and the nonce is signed as the string anyway.
func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// OriginOptions relaxes origin checking for development.
type OriginOptions struct {
	// AllowHTTPLoopback accepts http://localhost, http://127.0.0.1 and
	// http://[::1] (any port), like Web eID's ALLOW_HTTP_LOCALHOST build
	// flag. Off by default: a production origin is always https.
	AllowHTTPLoopback bool
}

// ValidateOrigin checks that origin is exactly scheme://host[:port]: https
// (or wss), no user info, path, query or fragment, at most 255 characters,
// and already in the canonical form a browser sends (lower-case scheme and
// host, no default port written out), because the string is signed as is
// and the server compares it byte for byte.
func ValidateOrigin(origin string, opts OriginOptions) error {
	if len(origin) == 0 || len(origin) > MaxOriginLength {
		return fmt.Errorf("%w: length %d, want 1 to %d", ErrInvalidOrigin, len(origin), MaxOriginLength)
	}
	u, err := url.Parse(origin)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidOrigin, err)
	}
	if u.Opaque != "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(origin, "#?") {
		return fmt.Errorf("%w: %q has more than scheme://host[:port]", ErrInvalidOrigin, origin)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: %q has no host", ErrInvalidOrigin, origin)
	}
	if !validHost(host) {
		return fmt.Errorf("%w: host %q is not a DNS name or IP literal", ErrInvalidOrigin, host)
	}
	switch u.Scheme {
	case "https", "wss":
	case "http":
		if !opts.AllowHTTPLoopback || !IsLoopbackHost(host) {
			return fmt.Errorf("%w: %q is not https", ErrInvalidOrigin, origin)
		}
	default:
		return fmt.Errorf("%w: scheme %q", ErrInvalidOrigin, u.Scheme)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != p {
			return fmt.Errorf("%w: port %q", ErrInvalidOrigin, p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return fmt.Errorf("%w: empty port", ErrInvalidOrigin)
	}
	canon := u.Scheme + "://" + strings.ToLower(u.Host)
	if canon != origin {
		return fmt.Errorf("%w: %q is not in canonical form %q", ErrInvalidOrigin, origin, canon)
	}
	return nil
}

// IsLoopbackHost reports whether host (no port, IPv6 without brackets) is
// "localhost" or a loopback IP literal. Names that merely start with
// 127.0.0.1 ("127.0.0.1.evil.example") are not loopback.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validHost accepts an IP literal or an ASCII DNS name (browsers send
// internationalised names as punycode): no wildcard or other characters.
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if len(h) > 253 || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
