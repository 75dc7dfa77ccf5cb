package transport

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/transport/socketio"
)

// socket is the Socket.IO side of one Engine.IO session, whatever carries
// it: it decodes the client's packets, authenticates its CONNECT, hands its
// events to the gateway and runs its heartbeat (heartbeat.go). Its carrier
// (a WebSocket Conn, or a polling session that may upgrade to one) moves the
// bytes. A session upgraded from polling to WebSocket keeps its socket, so
// its queue, heartbeat and gateway session carry over.
type socket struct {
	srv     *Server
	carrier carrier
	// client is what the gateway holds: the Conn, or the polling session
	// (which forwards to its WebSocket once upgraded).
	client messages.Client
	sid    string // Socket.IO sid, the client's socket.id (unless it recovered another session's)
	// recoveredSID is the sid of the session the client recovered, when it
	// did (Accepted with another sid): what its logs must name.
	recoveredSID atomic.Pointer[string]
	eioSID       string // Engine.IO sid of the OPEN packet
	ip           string
	bearer       string // the opening request's bearer token, until CONNECT: nothing else of the request is kept
	out          *outbound

	// session is set once the CONNECT is authenticated, by the one reader
	// of the session at a time (handshake goroutine, read pump, or POST
	// under the polling session's lock); finish reads it after the readers
	// have stopped.
	session Session
	// accepted is set once the gateway took the client (session set).
	accepted atomic.Bool
	// pendingHeld: the session counts in its IP's unauthenticated sessions
	// (pendingip.go) until its CONNECT is answered or it ends.
	pendingHeld atomic.Bool
	// refused is set when a CONNECT_ERROR was sent: the client is only
	// waited for to leave, up to the grace period.
	refused atomic.Bool
	// closing is set when the WebSocket close frame was sent: only the
	// client's answer is waited for, up to closeGrace.
	closing atomic.Bool
	// ended is set once the session's end was reported (closed).
	ended atomic.Bool
	// skipAttachments counts the binary frames still to come for a refused
	// binary packet; they are dropped without a second error. Reader only.
	skipAttachments int

	// Heartbeat and grace timers, under hbMu (heartbeat.go).
	hbMu        sync.Mutex
	heartbeat   *time.Timer
	grace       *time.Timer // ends the session after a CONNECT_ERROR or close frame
	graceAt     int64       // monoNow() when grace fires
	hbStopped   bool
	handshakeBy int64 // monoNow() by which the CONNECT must be accepted
	pingDue     int64 // monoNow() of the next ping
	pongDue     int64 // when the oldest unanswered ping times out; 0: none
	pingSentAt  int64
	lastPong    atomic.Int64
}

// carrier is what a socket needs of the transport that carries it.
type carrier interface {
	// abort ends the session from outside its reader (a missed pong, a
	// grace that ran out) with reason, unless an earlier one is set.
	abort(reason messages.CloseReason)
	// graceStarted tells the carrier the session ends at t unless the
	// client leaves first (a WebSocket moves its read deadline).
	graceStarted(t time.Time)
}

func newSocket(s *Server, eioSID, ip, authHeader string) *socket {
	return &socket{srv: s, sid: newID(), eioSID: eioSID, ip: ip, bearer: bearerToken(authHeader)}
}

// SID returns the Socket.IO session id the client sees as socket.id.
func (s *socket) SID() string { return s.sid }

// IP returns the client's address as the gateway believes it (TRUSTED_PROXIES).
func (s *socket) IP() string { return s.ip }

// Enqueue queues an encoded frame for the client without blocking; false
// means the session is closing (slow client or ended). It implements
// messages.Outbox.
func (s *socket) Enqueue(frame []byte) bool { return s.out.Enqueue(frame) }

// Accepted sends the CONNECT answer with the Socket.IO sid (the transport's
// own, or the one of the session the client recovered) and the private
// session id pid, left out when empty: the client is in.
func (s *socket) Accepted(sid, pid string) {
	if sid != s.sid {
		s.recoveredSID.Store(&sid)
	}
	s.out.Enqueue(socketio.AppendConnect(nil, sid, pid))
}

// logSID is the sid the client knows: its recovered session's, or its own.
func (s *socket) logSID() string {
	if p := s.recoveredSID.Load(); p != nil {
		return *p
	}
	return s.sid
}

// Refuse answers the CONNECT with a CONNECT_ERROR carrying code, then leaves
// the client the grace period to close the session itself before ending it.
func (s *socket) Refuse(code messages.Code) {
	if !s.refused.CompareAndSwap(false, true) {
		return
	}
	s.out.Enqueue(socketio.AppendConnectError(nil, string(code)))
	s.endAfter(s.srv.cfg.ConnectErrorGrace, messages.CloseConnectRefused)
}

// openPacket is the Engine.IO OPEN packet of this session.
func (s *socket) openPacket(upgrades ...string) []byte {
	return socketio.AppendOpen(nil, socketio.OpenInfo{
		SID:          s.eioSID,
		Upgrades:     upgrades,
		PingInterval: s.srv.cfg.PingInterval,
		PingTimeout:  s.srv.cfg.PingTimeout,
		MaxPayload:   s.srv.cfg.MaxMessageBytes,
	})
}

// closed reports the session's end to the gateway, once: when its readers
// have stopped, or for a slow client at its queue's overflow (its reader
// then delivers nothing more). A refused client was never the gateway's.
func (s *socket) closed(reason messages.CloseReason) {
	if s.ended.Swap(true) { // told already: a slow client's, at its overflow
		return
	}
	s.srv.metrics.disconnects.WithLabelValues(reason.String()).Inc()
	if s.session != nil && !s.refused.Load() {
		s.session.Closed(reason)
	}
}

// handlePacket acts on one Engine.IO packet from the client; end reports the
// session is over, and why. Its caller is the session's one reader.
func (s *socket) handlePacket(frame []byte) (messages.CloseReason, bool) {
	p, err := socketio.Decode(frame)
	if errors.Is(err, socketio.ErrBinary) {
		// Never processed; the client may go on. Answer its ack if it asked
		// for one, so an emitWithAck does not hang.
		attachments, ackID := socketio.BinaryHeader(frame)
		s.skipAttachments = attachments
		if ackID != socketio.NoAck && s.session != nil {
			s.out.Enqueue(socketio.AppendAck(nil, ackID, messages.NewError(messages.CodeBinaryNotSupported).AckBody()))
		} else {
			s.sendError(messages.CodeBinaryNotSupported)
		}
		return 0, false
	}
	if err != nil {
		s.securityEvent(security.EventMalformedPacket, err.Error())
		return messages.CloseMalformed, true
	}
	s.srv.metrics.framesReceived.Inc()
	switch p.EIO {
	case socketio.EIOPong:
		s.onPong()
		return 0, false
	case socketio.EIOPing, socketio.EIONoop:
		return 0, false
	case socketio.EIOClose:
		// The Engine.IO close packet ends the transport, not the Socket.IO
		// session: socket.io-client reconnects and may recover (§9).
		return messages.CloseTransportClosed, true
	case socketio.EIOMessage:
	default:
		s.securityEvent(security.EventMalformedPacket, "unexpected engine.io packet type")
		return messages.CloseMalformed, true
	}
	if p.Namespace != "/" {
		if p.Type == socketio.Connect {
			s.out.Enqueue(appendNamespaceError(nil, p.Namespace))
		}
		return 0, false // nothing else is served on other namespaces
	}
	switch p.Type {
	case socketio.Connect:
		if s.session == nil && !s.refused.Load() {
			s.connect(p.Data)
		}
		return 0, false
	case socketio.Event:
		if s.session == nil {
			s.securityEvent(security.EventMalformedPacket, "event before connect")
			return messages.CloseMalformed, true
		}
		if !s.ended.Load() { // a slow client's session ended at its overflow
			s.session.Event(&messages.ClientEvent{Event: p.Event, Args: p.Args, AckID: p.AckID})
		}
		return 0, false
	case socketio.Ack:
		return 0, false // the gateway never asks clients for acks
	case socketio.Disconnect:
		return messages.CloseClientLeft, true
	default:
		s.securityEvent(security.EventMalformedPacket, "unexpected socket.io packet type")
		return messages.CloseMalformed, true
	}
}

// binaryFrame handles a binary WebSocket frame or base64 polling packet:
// never processed, answered once per packet with BINARY_NOT_SUPPORTED.
func (s *socket) binaryFrame() {
	if s.skipAttachments > 0 {
		s.skipAttachments--
		return
	}
	s.sendError(messages.CodeBinaryNotSupported)
}

// connect authenticates a CONNECT in the reader's goroutine (so verification
// runs in parallel across clients) and hands the client to the gateway.
func (s *socket) connect(auth json.RawMessage) {
	defer s.releasePending() // accepted: the ip limiter counts it now; refused: no slot
	header := s.bearer
	s.bearer = "" // one CONNECT per session: never needed again
	token, present, resume, err := fromAuth(auth)
	if err != nil {
		s.securityEvent(security.EventAuthInvalid, err.Error())
		s.client.Refuse(messages.CodeInvalidToken)
		return
	}
	if !present {
		token = header
	}
	if token == "" {
		s.securityEvent(security.EventAuthMissing, "")
		s.client.Refuse(messages.CodeAuthRequired)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.srv.cfg.AuthTimeout)
	claims, err := s.srv.verifier.Verify(ctx, token)
	cancel()
	if err != nil {
		var we *messages.Error
		if errors.As(err, &we) && we.Code == messages.CodeAuthRequired {
			s.securityEvent(security.EventAuthMissing, "")
			s.client.Refuse(messages.CodeAuthRequired)
			return
		}
		s.securityEvent(security.EventAuthInvalid, security.Redact(err.Error()))
		s.client.Refuse(messages.CodeInvalidToken)
		return
	}
	// Recovery never skips authentication: the token was verified above,
	// and the gateway checks it against the session it asks to recover.
	s.session = s.srv.gateway.Accept(s.client, claims, resume)
	s.accepted.Store(s.session != nil)
}

// fromAuth reads {"token": "…", "pid": "…", "offset": "…"} from a CONNECT
// payload. present is false when there is no token field (or it is null or
// empty), so the Authorization header is tried; a token that is not a
// string is an error. pid and offset (socket.io-client adds them when it
// reconnects) are taken only as non-empty strings; anything else asks for
// no recovery, which is never an error: the client gets a fresh session.
func fromAuth(auth json.RawMessage) (token string, present bool, resume messages.Resume, err error) {
	if len(auth) == 0 {
		return "", false, resume, nil
	}
	var a struct {
		Token  json.RawMessage `json:"token"`
		PID    json.RawMessage `json:"pid"`
		Offset json.RawMessage `json:"offset"`
	}
	if json.Unmarshal(auth, &a) != nil {
		return "", false, resume, nil
	}
	if json.Unmarshal(a.PID, &resume.PID) != nil {
		resume.PID = ""
	}
	if resume.PID != "" && json.Unmarshal(a.Offset, &resume.Offset) == nil && resume.Offset != "" {
		resume.HasOffset = true
	} else {
		resume.Offset = ""
	}
	if len(a.Token) == 0 || string(a.Token) == "null" {
		return "", false, resume, nil
	}
	if json.Unmarshal(a.Token, &token) != nil {
		return "", false, messages.Resume{}, errTokenNotString
	}
	return token, token != "", resume, nil
}

var errTokenNotString = errors.New("transport: the CONNECT token is not a string")

func (s *socket) sendError(code messages.Code) {
	s.out.Enqueue(socketio.AppendEvent(nil, "error", messages.NewError(code).EventBody()))
}

func appendNamespaceError(dst []byte, ns string) []byte {
	dst = append(dst, "44"...)
	dst = append(dst, ns...)
	return append(dst, `,{"message":"Invalid namespace","data":{"code":"INVALID_NAMESPACE"}}`...)
}

func (s *socket) securityEvent(ev security.Event, detail string) {
	s.srv.events.Emit(ev, security.EventFields{IP: s.ip, SID: s.logSID(), Detail: detail})
}
