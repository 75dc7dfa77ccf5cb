package transport

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
)

// Gateway is what the transport needs from the actor system; cmd/gateway
// wires actors.System to it.
type Gateway interface {
	// Accept takes an authenticated client. The gateway answers the CONNECT
	// itself (c.Accepted or c.Refuse) and returns where the client's events go.
	Accept(c *Conn, claims *security.Claims) Session
	// Publish broadcasts to a room and returns how many members it was
	// queued to.
	Publish(ctx context.Context, room, event string, data json.RawMessage) (messages.PublishResult, error)
}

// Session receives what the read pump reads for one accepted client.
type Session interface {
	// Event hands over a client EVENT; it must not block.
	Event(ev *messages.ClientEvent)
	// Closed reports the socket ended, once, with the reason.
	Closed(reason messages.CloseReason)
}

// Server serves the Socket.IO endpoint and the HTTP API on one listener.
type Server struct {
	cfg      Config
	verifier security.Verifier
	gateway  Gateway
	events   *security.EventLog
	log      *slog.Logger
	gatherer prometheus.Gatherer
	metrics  *metrics
	upgrader websocket.Upgrader
	draining atomic.Bool
	extra    *http.ServeMux
	ready    func() bool
	conns    sync.WaitGroup // one per upgraded socket, until its pumps are done
	liveMu   sync.Mutex
	live     map[*Conn]struct{} // upgraded sockets, for closing those no actor owns at shutdown
}

// Deps are the Server's collaborators.
type Deps struct {
	Verifier security.Verifier
	Gateway  Gateway
	Events   *security.EventLog
	Logger   *slog.Logger
	Registry interface {
		prometheus.Registerer
		prometheus.Gatherer
	}
	// Ready, if set, must hold for /readyz to answer 200 (cluster link).
	Ready func() bool
}

// NewServer builds a Server; routes registered later with Handle are served
// beside the built-in ones.
func NewServer(cfg Config, d Deps) *Server {
	s := &Server{
		cfg:      cfg.withDefaults(),
		verifier: d.Verifier,
		gateway:  d.Gateway,
		events:   d.Events,
		log:      d.Logger,
		gatherer: d.Registry,
		metrics:  newMetrics(d.Registry),
		extra:    http.NewServeMux(),
		ready:    d.Ready,
		live:     map[*Conn]struct{}{},
	}
	s.upgrader = websocket.Upgrader{
		// Zero: gorilla reads through the buffered reader that Hijack hands
		// it, which is the Conn's own (see hijacker), so the read pump can
		// see when it is empty.
		ReadBufferSize: 0,
		// The write pump frames and writes itself; gorilla writes only the
		// close frame, with WriteControl, which needs no write buffer. A
		// pool keeps gorilla from allocating one per connection.
		WriteBufferPool: new(sync.Pool),
		CheckOrigin:     func(*http.Request) bool { return true }, // checked before Upgrade
	}
	return s
}

// Handle registers an extra route (e.g. /debug/faults).
func (s *Server) Handle(pattern string, h http.Handler) { s.extra.Handle(pattern, h) }

// Drain marks the server as shutting down: /readyz answers 503 and new
// upgrades are refused. Closing the clients is the actors' job.
func (s *Server) Drain() { s.draining.Store(true) }

// WaitConns waits until every upgraded socket has finished (its close frame
// written, its TCP connection closed) or ctx ends. http.Server.Shutdown does
// not wait for hijacked connections, so shutdown waits here.
func (s *Server) WaitConns(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Handler returns the HTTP handler for every route.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/socket.io/", s.serveSocketIO)
	mux.HandleFunc("/v1/publish", s.servePublish)
	mux.Handle("/metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if s.draining.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "draining"})
			return
		}
		if s.ready != nil && !s.ready() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "cluster unavailable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
	})
	mux.Handle("/", s.extra)
	return mux
}

func (s *Server) serveSocketIO(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case r.Method != http.MethodGet:
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	case q.Get("EIO") != "4":
		s.metrics.upgrades.WithLabelValues("bad_request").Inc()
		writeError(w, http.StatusBadRequest, "unsupported protocol version: EIO=4 is required")
		return
	case q.Get("transport") != "websocket" || !websocket.IsWebSocketUpgrade(r):
		s.metrics.upgrades.WithLabelValues("bad_request").Inc()
		writeError(w, http.StatusBadRequest, "only the websocket transport is served: use transports: ['websocket']")
		return
	case s.draining.Load():
		s.metrics.upgrades.WithLabelValues("draining").Inc()
		writeError(w, http.StatusServiceUnavailable, "server is shutting down")
		return
	}
	ip := clientIP(r, s.cfg.TrustedProxies)
	if !originAllowed(r, s.cfg.AllowedOrigins, s.cfg.AllowLoopbackOrigins) {
		s.metrics.upgrades.WithLabelValues("origin_rejected").Inc()
		s.events.Emit(security.EventOriginRejected, security.EventFields{IP: ip, Detail: "origin " + r.Header.Get("Origin")})
		writeError(w, http.StatusForbidden, "origin not allowed")
		return
	}
	br := bufio.NewReaderSize(nil, readBufferSize)
	ws, err := s.upgrader.Upgrade(&hijacker{ResponseWriter: w, br: br}, r, nil)
	if err != nil {
		s.metrics.upgrades.WithLabelValues("failed").Inc()
		return // Upgrade has answered the request
	}
	s.metrics.upgrades.WithLabelValues("ok").Inc()
	c := &Conn{
		srv:        s,
		ws:         ws,
		nc:         ws.NetConn(),
		sid:        newID(),
		engineSID:  newID(),
		ip:         ip,
		authToken:  bearerToken(r.Header.Get("Authorization")),
		writerDone: make(chan struct{}),
		br:         br,
	}
	if sc, ok := c.nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	c.out = newOutbound(s.cfg.OutboundQueueBytes, func() { go c.writePump() })
	s.liveMu.Lock()
	s.live[c] = struct{}{}
	s.liveMu.Unlock()
	s.conns.Add(1)
	// The handshake runs in a goroutine of its own, so this handler returns
	// and net/http drops the request (its headers, its buffers) at once
	// rather than when the client sends CONNECT.
	go c.serve(func() {
		s.liveMu.Lock()
		delete(s.live, c)
		s.liveMu.Unlock()
		s.conns.Done()
	})
}

// readBufferSize is each connection's read buffer. Client frames are small,
// and a payload larger than the buffer is read straight into the caller's
// slice: the buffer mostly holds frame headers. gorilla adopts a hijacked
// reader only when it is larger than 256 bytes.
const readBufferSize = 288

// hijacker hands gorilla's Upgrade the Conn's own buffered reader in place of
// net/http's, so the read pump can tell when gorilla holds no unread bytes.
type hijacker struct {
	http.ResponseWriter
	br *bufio.Reader
}

// Hijack implements http.Hijacker. Bytes net/http already buffered (a client
// that did not wait for the 101) are left for gorilla, which refuses them.
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil || rw.Reader.Buffered() > 0 {
		return nc, rw, err
	}
	return nc, bufio.NewReadWriter(h.br, rw.Writer), nil
}

// CloseAll closes every socket still open with reason: after the actor tree
// has stopped, these are the ones no actor owns (no CONNECT yet, or waiting
// out a CONNECT_ERROR grace). Their clients get the close frame at once.
func (s *Server) CloseAll(reason messages.CloseReason) {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	for c := range s.live {
		if c.accepted.Load() {
			c.Close(reason) // its actor did not get to it: DISCONNECT first, as it would have
		} else {
			c.out.close(reason)
		}
	}
}

// newID returns a random, URL-safe 20-character session id.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// bearerToken extracts the token of an "Authorization: Bearer …" header.
func bearerToken(h string) string {
	const prefix = "bearer "
	if len(h) > len(prefix) && equalFoldASCII(h[:len(prefix)], prefix) {
		return h[len(prefix):]
	}
	return ""
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": msg})
}
