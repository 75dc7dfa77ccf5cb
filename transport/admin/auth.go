package admin

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// requireKey answers 401 (JSON) to any request without the admin key as
// "Authorization: Bearer …", compared in constant time. The key is never
// read from the URL: it would land in access logs and browser history.
func (c *Console) requireKey(next http.Handler) http.Handler {
	want := []byte(c.cfg.Key)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := bearer(r.Header.Get("Authorization"))
		if len(want) == 0 || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong admin key")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func bearer(h string) string {
	const prefix = "bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return h[len(prefix):]
	}
	return ""
}
