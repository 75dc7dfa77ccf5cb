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
	// Accept takes an authenticated client, with what its CONNECT asked to
	// recover (zero: nothing). The gateway answers the CONNECT itself
	// (c.Accepted or c.Refuse) and returns where the client's events go.
	Accept(c messages.Client, claims *security.Claims, resume messages.Resume) Session
	// Publish broadcasts to a room and returns how many members it was
	// queued to.
	Publish(ctx context.Context, room, event string, data json.RawMessage) (messages.PublishResult, error)
}

// PresenceGateway is a Gateway that answers GET /v1/presence (404 when
// the gateway does not implement it).
type PresenceGateway interface {
	// Presence returns the body of the presence ack for a valid room.
	Presence(ctx context.Context, room string) (json.RawMessage, error)
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
	relay    Relay // nil: a single node
	ready    func() bool
	conns    sync.WaitGroup // one per upgraded socket, until its pumps are done
	// sessionsMu guards live and polls, for shutdown and for finding a
	// polling session by its Engine.IO sid.
	sessionsMu sync.Mutex
	live       map[*Conn]struct{}      // WebSockets, for closing those no actor owns at shutdown
	polls      map[string]*pollSession // polling sessions (upgraded ones until they end) by Engine.IO sid
	pending    *pendingIPs             // sessions without an answered CONNECT, per IP
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
	// Relay, if set, passes polling requests to the node holding their
	// session (clustered without sticky sessions).
	Relay Relay
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
		relay:    d.Relay,
		live:     map[*Conn]struct{}{},
		polls:    map[string]*pollSession{},
	}
	s.pending = newPendingIPs(s.cfg.MaxPendingPerIP)
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
	mux.HandleFunc("/v1/presence", s.servePresence)
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
	transport := q.Get("transport")
	switch {
	case q.Get("EIO") != "4":
		s.refuseRequest(w, r, "bad_request", eioUnsupportedVersion)
		return
	case transport != "polling" && transport != "websocket":
		s.refuseRequest(w, r, "bad_request", eioUnknownTransport)
		return
	}
	ip := clientIP(r, s.cfg.TrustedProxies)
	if !originAllowed(r, s.cfg.AllowedOrigins, s.cfg.AllowLoopbackOrigins) {
		s.metrics.upgrades.WithLabelValues("origin_rejected").Inc()
		s.events.Emit(security.EventOriginRejected, security.EventFields{IP: ip, Detail: "origin " + r.Header.Get("Origin")})
		s.logRefused(r, "origin not allowed")
		writeJSON(w, http.StatusForbidden, eioForbidden.body())
		return
	}
	if transport == "polling" {
		setCORS(w, r)
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	sid := q.Get("sid")
	if sid == "" && s.draining.Load() {
		s.metrics.upgrades.WithLabelValues("draining").Inc()
		s.logRefused(r, "draining")
		writeError(w, http.StatusServiceUnavailable, "server is shutting down")
		return
	}
	if transport == "polling" {
		s.servePolling(w, r, sid, ip)
		return
	}
	if r.Method != http.MethodGet {
		s.refuseRequest(w, r, "bad_request", eioBadHandshakeMethod)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		s.refuseRequest(w, r, "bad_request", eioBadRequest)
		return
	}
	var probe *pollSession
	if sid != "" {
		if probe = s.pollSession(sid); probe == nil || probe.ws.Load() != nil {
			s.refuseRequest(w, r, "unknown_sid", eioUnknownSID)
			return
		}
	}
	s.serveWebSocket(w, r, ip, probe)
}

// servePolling serves one long-polling request: the handshake (GET without
// sid), the long poll (GET) or the client's packets (POST).
func (s *Server) servePolling(w http.ResponseWriter, r *http.Request, sid, ip string) {
	if sid == "" {
		if r.Method != http.MethodGet {
			s.refuseRequest(w, r, "bad_request", eioBadHandshakeMethod)
			return
		}
		if !s.admitPending(w, r, ip) {
			return
		}
		s.metrics.upgrades.WithLabelValues("polling_ok").Inc()
		p := s.newPollSession(ip, r.Header.Get("Authorization"))
		writePayload(w, [][]byte{p.openPacket("websocket")})
		return
	}
	p := s.pollSession(sid)
	if p == nil {
		if !s.relayElsewhere(w, r, sid) {
			s.refuseRequest(w, r, "unknown_sid", eioUnknownSID)
		}
		return
	}
	p.serve(w, r)
}

// serveWebSocket upgrades the request and runs the socket: a new session,
// or the upgrade probe of the polling session probe.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request, ip string, probe *pollSession) {
	if probe == nil && !s.admitPending(w, r, ip) {
		return
	}
	br := bufio.NewReaderSize(nil, readBufferSize)
	ws, err := s.upgrader.Upgrade(&hijacker{ResponseWriter: w, br: br}, r, nil)
	if err != nil {
		if probe == nil {
			s.pending.release(ip)
		}
		s.metrics.upgrades.WithLabelValues("failed").Inc()
		return // Upgrade has answered the request
	}
	s.metrics.upgrades.WithLabelValues("ok").Inc()
	c := &Conn{ws: ws, nc: ws.NetConn(), writerDone: make(chan struct{}), br: br, probe: probe}
	if probe != nil {
		c.socket = probe.socket
	} else {
		c.socket = newSocket(s, newID(), ip, r.Header.Get("Authorization"))
		c.pendingHeld.Store(true)
		c.carrier, c.client = c, c
		c.out = newOutbound(s.cfg.OutboundQueueBytes, func() { go c.writePump() })
		c.out.onClose = c.queueClosed
	}
	if sc, ok := c.nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	s.sessionsMu.Lock()
	s.live[c] = struct{}{}
	s.sessionsMu.Unlock()
	s.conns.Add(1)
	// The handshake runs in a goroutine of its own, so this handler returns
	// and net/http drops the request (its headers, its buffers) at once
	// rather than when the client sends CONNECT.
	go c.serve(func() {
		s.sessionsMu.Lock()
		delete(s.live, c)
		s.sessionsMu.Unlock()
		if probe != nil {
			probe.probeDone(c)
		} else {
			c.releasePending()
		}
		s.conns.Done()
	})
}

// pollSession returns the polling session with Engine.IO sid, or nil.
func (s *Server) pollSession(sid string) *pollSession {
	s.sessionsMu.Lock()
	defer s.sessionsMu.Unlock()
	return s.polls[sid]
}

// refuseRequest answers a Socket.IO request Engine.IO's way (HTTP 400 with
// its error code) and logs why at debug, since clients show little of it.
func (s *Server) refuseRequest(w http.ResponseWriter, r *http.Request, result string, e eioError) {
	s.metrics.upgrades.WithLabelValues(result).Inc()
	s.logRefused(r, e.message)
	writeEIOError(w, e)
}

func (s *Server) logRefused(r *http.Request, why string) {
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("socket.io request refused", "reason", why, "method", r.Method, "transport", r.URL.Query().Get("transport"))
	}
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
	s.sessionsMu.Lock()
	clients := make([]messages.Client, 0, len(s.live)+len(s.polls))
	for c := range s.live {
		clients = append(clients, c)
	}
	for _, p := range s.polls {
		clients = append(clients, p)
	}
	s.sessionsMu.Unlock()
	for _, c := range clients {
		closeUnowned(c, reason)
	}
}

// closeUnowned closes a session whose actor did not get to it: one that was
// accepted gets the DISCONNECT first, as its actor would have sent.
func closeUnowned(c messages.Client, reason messages.CloseReason) {
	switch c := c.(type) {
	case *Conn:
		if c.accepted.Load() {
			c.Close(reason)
		} else {
			c.out.close(reason)
		}
	case *pollSession:
		if c.accepted.Load() {
			c.Close(reason)
		} else {
			c.abort(reason)
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
