package transport

import "net/http"

// eioError is one of Engine.IO's request errors, answered as HTTP 400 with
// the JSON body {"code": N, "message": "…"} that engine.io sends.
type eioError struct {
	code    int
	message string
}

// Engine.IO's error codes (engine.io's Server.errors).
var (
	eioUnknownTransport   = eioError{0, "Transport unknown"}
	eioUnknownSID         = eioError{1, "Session ID unknown"}
	eioBadHandshakeMethod = eioError{2, "Bad handshake method"}
	eioBadRequest         = eioError{3, "Bad request"}
	eioForbidden          = eioError{4, "Forbidden"}
	eioUnsupportedVersion = eioError{5, "Unsupported protocol version"}
)

func (e eioError) body() map[string]any { return map[string]any{"code": e.code, "message": e.message} }

func writeEIOError(w http.ResponseWriter, e eioError) {
	writeJSON(w, http.StatusBadRequest, e.body())
}

// setCORS lets a browser page from an allowed origin (checked before) read
// polling answers with credentials, as engine.io's cors option does.
func setCORS(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
		} else {
			h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
		}
		h.Set("Access-Control-Max-Age", "86400")
	}
}
