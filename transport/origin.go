package transport

import (
	"net/http"
	"net/url"
	"strings"
)

// originAllowed checks the Origin header against the allow-list. Browsers
// always send Origin on a WebSocket upgrade; a request without one comes from
// a non-browser client, which Origin cannot protect against anyway.
func originAllowed(r *http.Request, allowed []string, loopback bool) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if loopback && isLoopbackOrigin(origin) {
		return true
	}
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(strings.TrimRight(a, "/"), origin) {
			return true
		}
	}
	return false
}

// isLoopbackOrigin reports an http origin on localhost or 127.0.0.1, any
// port: the dev servers (Vite, Next, CRA) a developer's page comes from.
func isLoopbackOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || !strings.EqualFold(u.Scheme, "http") || u.Path != "" || u.User != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	return host == "localhost" || host == "127.0.0.1"
}
