package transport

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hyvve/gateway/security"
)

// reservedEvents are names a socket.io-client treats specially or the
// gateway itself sends (so a backend cannot fake them); a publisher may not
// use them.
var reservedEvents = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true, "disconnecting": true,
	"newListener": true, "removeListener": true, "error": true, "token_expiring": true,
	"ping": true, "pong": true,
	"presence_join": true, "presence_leave": true, "state_sync": true, "dashboard_action": true,
}

// ReservedEvent reports whether name is an event a publisher may not use
// (the operator console's publish form checks it too). Names starting with
// a NUL byte are the gateway's own cluster messages.
func ReservedEvent(name string) bool { return reservedEvents[name] || strings.HasPrefix(name, "\x00") }

// publishRequest is the body of POST /v1/publish.
type publishRequest struct {
	Room  *string         `json:"room"`
	Event *string         `json:"event"`
	Data  json.RawMessage `json:"data"`
}

func (s *Server) servePublish(w http.ResponseWriter, r *http.Request) {
	status := s.publish(w, r)
	s.metrics.publishes.WithLabelValues(strconv.Itoa(status)).Inc()
}

func (s *Server) publish(w http.ResponseWriter, r *http.Request) int {
	if s.cfg.PublishAPIKey == "" {
		writeError(w, http.StatusNotFound, "publish API is disabled: set PUBLISH_API_KEY")
		return http.StatusNotFound
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "use POST")
		return http.StatusMethodNotAllowed
	}
	key := bearerToken(r.Header.Get("Authorization"))
	if subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.PublishAPIKey)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="publish"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong API key")
		return http.StatusUnauthorized
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(s.cfg.MaxMessageBytes)))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "body over "+strconv.Itoa(s.cfg.MaxMessageBytes)+" bytes")
			return http.StatusRequestEntityTooLarge
		}
		writeError(w, http.StatusBadRequest, "could not read body")
		return http.StatusBadRequest
	}
	// Checked before decoding: encoding/json accepts invalid UTF-8 inside
	// strings and json.RawMessage keeps it, and a WebSocket text frame
	// carrying it makes every member's client drop the connection.
	if !utf8.Valid(body) {
		writeError(w, http.StatusBadRequest, "body is not valid UTF-8")
		return http.StatusBadRequest
	}
	var req publishRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		writeError(w, http.StatusBadRequest, "body must be JSON {\"room\", \"event\", \"data\"}")
		return http.StatusBadRequest
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "trailing data after the JSON body")
		return http.StatusBadRequest
	}
	if req.Room == nil {
		writeError(w, http.StatusBadRequest, "room is required")
		return http.StatusBadRequest
	}
	if _, err := security.ParseRoom(*req.Room); err != nil {
		writeError(w, http.StatusBadRequest, "invalid room")
		return http.StatusBadRequest
	}
	if req.Event == nil || *req.Event == "" {
		writeError(w, http.StatusBadRequest, "event is required")
		return http.StatusBadRequest
	}
	if ReservedEvent(*req.Event) {
		writeError(w, http.StatusBadRequest, "event name "+strconv.Quote(*req.Event)+" is reserved")
		return http.StatusBadRequest
	}
	data := req.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	res, err := s.gateway.Publish(r.Context(), *req.Room, *req.Event, data)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return http.StatusServiceUnavailable
	}
	answer := map[string]any{"ok": true, "recipients": res.Recipients}
	if res.Partial {
		answer["partial"] = true // a node hosting the room did not report its count in time
	}
	writeJSON(w, http.StatusOK, answer)
	return http.StatusOK
}

// servePresence is GET /v1/presence?room=…: the body of the presence ack
// (docs/PROTOCOL.md "Presence"), with the publish API's key and rules.
func (s *Server) servePresence(w http.ResponseWriter, r *http.Request) {
	pg, ok := s.gateway.(PresenceGateway)
	if s.cfg.PublishAPIKey == "" || !ok {
		writeError(w, http.StatusNotFound, "presence API is disabled: set PUBLISH_API_KEY")
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "use GET")
		return
	}
	key := bearerToken(r.Header.Get("Authorization"))
	if subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.PublishAPIKey)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="publish"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong API key")
		return
	}
	rooms, ok := r.URL.Query()["room"]
	if !ok || len(rooms) != 1 {
		writeError(w, http.StatusBadRequest, "one room query parameter is required")
		return
	}
	if _, err := security.ParseRoom(rooms[0]); err != nil {
		writeError(w, http.StatusBadRequest, "invalid room")
		return
	}
	body, err := pg.Presence(r.Context(), rooms[0])
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
