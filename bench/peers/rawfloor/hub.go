package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/transport/socketio"
)

// maxPublishBytes bounds a publish body, as the gateway's default does.
const maxPublishBytes = 100000

// hub is the whole server state: who is in which room.
type hub struct {
	mode     writeMode
	upgrader websocket.Upgrader

	mu    sync.RWMutex
	rooms map[string]map[*conn]struct{}
	conns map[*conn]struct{}
}

func newHub(m writeMode) *hub {
	return &hub{
		mode: m,
		upgrader: websocket.Upgrader{
			ReadBufferSize:  1024,
			WriteBufferSize: 1024,
			CheckOrigin:     func(*http.Request) bool { return true },
		},
		rooms: map[string]map[*conn]struct{}{},
		conns: map[*conn]struct{}{},
	}
}

func (h *hub) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/socket.io/", h.serveSocket)
	mux.HandleFunc("/v1/publish", h.servePublish)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"status":"ok"}`) })
	return mux
}

func (h *hub) serveSocket(w http.ResponseWriter, r *http.Request) {
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered the request
	}
	c := newConn(h, ws)
	h.mu.Lock()
	h.conns[c] = struct{}{}
	h.mu.Unlock()
	c.serve()
	h.remove(c)
}

// join puts c in room.
func (h *hub) join(c *conn, room string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.rooms[room]
	if m == nil {
		m = map[*conn]struct{}{}
		h.rooms[room] = m
	}
	m[c] = struct{}{}
	c.rooms = append(c.rooms, room)
}

// remove takes an ended connection out of its rooms.
func (h *hub) remove(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, c)
	for _, room := range c.rooms {
		if m := h.rooms[room]; m != nil {
			delete(m, c)
			if len(m) == 0 {
				delete(h.rooms, room)
			}
		}
	}
}

// servePublish encodes the event once and queues the same bytes to every
// member of the room.
func (h *hub) servePublish(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, `{"error":"use POST"}`, http.StatusMethodNotAllowed)
		return
	}
	var req struct {
		Room  string          `json:"room"`
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPublishBytes)).Decode(&req); err != nil || req.Room == "" || req.Event == "" {
		http.Error(w, `{"error":"body must be JSON {\"room\",\"event\",\"data\"}"}`, http.StatusBadRequest)
		return
	}
	frame := socketio.AppendEvent(nil, req.Event, req.Data)
	n := 0
	h.mu.RLock()
	for c := range h.rooms[req.Room] {
		if c.enqueue(frame) {
			n++
		}
	}
	h.mu.RUnlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true,"recipients":`+strconv.Itoa(n)+"}\n")
}

// closeAll ends every connection (shutdown).
func (h *hub) closeAll() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.conns {
		c.close()
	}
}
