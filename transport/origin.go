package transport

import (
	"net/http"
	"strings"
)

// originAllowed checks the Origin header against the allow-list. Browsers
// always send Origin on a WebSocket upgrade; a request without one comes from
// a non-browser client, which Origin cannot protect against anyway.
func originAllowed(r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(strings.TrimRight(a, "/"), origin) {
			return true
		}
	}
	return false
}
