package security

import (
	"regexp"
	"strings"
)

// Redacted replaces whatever Redact removes.
const Redacted = "[redacted]"

// tokenLike matches three or more base64url segments joined by dots, or two
// and a trailing dot (an unsigned "alg: none" token has an empty signature).
// The first alternative wins, so a full stop after a token is kept.
var tokenLike = regexp.MustCompile(`[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+){2,}|[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.`)

// jsonHeaderPrefixes are how the base64url of a JSON object header starts:
// `{"`, `{ "`, and `{` followed by a newline, carriage return or tab.
var jsonHeaderPrefixes = []string{"eyJ", "eyA", "ewo", "ew0", "ewk"}

// minOpaqueSegment is the shortest segment of a token-like run that does not
// start with a JSON header; below it the run is taken for a host name.
const minOpaqueSegment = 16

// Redact replaces anything in s that looks like a JWT (JWS or JWE compact:
// three or more base64url segments separated by dots) with "[redacted]".
// A run counts as a token when its first segment starts like a base64url
// JSON object ("eyJ…") or when each of its first three segments is at least
// 16 characters, so host names such as "app.example.com" stay readable.
func Redact(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	return tokenLike.ReplaceAllStringFunc(s, func(m string) string {
		if looksLikeToken(m) {
			return Redacted
		}
		return m
	})
}

func looksLikeToken(m string) bool {
	for _, p := range jsonHeaderPrefixes {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	parts := strings.SplitN(m, ".", 4)
	for _, p := range parts[:3] {
		if len(p) < minOpaqueSegment {
			return false
		}
	}
	return true
}
