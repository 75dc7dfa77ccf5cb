package transport

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/transport/socketio"
)

// Conn is one Socket.IO client on a WebSocket. Both of its pumps run on
// demand: the write pump while frames are queued (the outbound queue starts
// it, and it ends when the queue is empty), the read pump while there is
// something to read (the poller starts it when the socket turns readable,
// and it ends when gorilla's buffer is empty and the socket is parked with
// the poller again). An idle client holds no goroutine. There is never more
// than one of each: they are the only reader and the only writer of the
// socket (gorilla/websocket allows one of each). Everything else talks to
// the client through the bounded outbound queue.
type Conn struct {
	srv        *Server
	ws         *websocket.Conn
	nc         net.Conn
	sid        string // Socket.IO sid, the client's socket.id
	engineSID  string
	ip         string
	authToken  string // the upgrade's bearer token, until CONNECT: nothing else of the request is kept
	out        *outbound
	writerDone chan struct{} // closed by the write pump that ends the socket
	done       func()        // tells the Server the socket is over
	br         *bufio.Reader // gorilla's read buffer: the pump parks only when it is empty
	raw        syscall.RawConn

	// The read pump's state, under rmu: who reads the socket now.
	rmu      sync.Mutex
	rstate   readState
	aborting bool   // abort set a past read deadline: the reader must read on, not park
	pollID   uint64 // the poller's id for the socket, under the poller's lock

	// Heartbeat and grace timers, under hbMu (heartbeat.go).
	hbMu       sync.Mutex
	heartbeat  *time.Timer
	grace      *time.Timer // ends the socket after a CONNECT_ERROR or close frame
	graceAt    int64       // monoNow() when grace fires
	hbStopped  bool
	pingDue    int64 // monoNow() of the next ping
	pongDue    int64 // when the oldest unanswered ping times out; 0: none
	pingSentAt int64
	lastPong   atomic.Int64

	// writeDeadlineAt is when the write deadline was last moved; write
	// pumps run one at a time, and the queue's lock orders one's end
	// before the next one's start.
	writeDeadlineAt time.Time

	// session is set by the read pump once the CONNECT is authenticated and
	// read only by it.
	session Session
	// refused is set when a CONNECT_ERROR was sent: the read pump then only
	// waits for the client to leave, up to the grace period.
	refused atomic.Bool
	// closing is set when the close frame was sent: the read pump only waits
	// for the client's answer, up to closeGrace.
	closing atomic.Bool
	// accepted is set once the gateway took the client (session set).
	accepted atomic.Bool
	// skipAttachments counts the binary frames still to come for a refused
	// binary packet; they are dropped without a second error. Read pump only.
	skipAttachments int
}

// SID returns the Socket.IO session id the client sees as socket.id.
func (c *Conn) SID() string { return c.sid }

// IP returns the client's address as the gateway believes it (TRUSTED_PROXIES).
func (c *Conn) IP() string { return c.ip }

// Enqueue queues an encoded frame for the client without blocking; false means
// the connection is closing (slow client or ended). It implements messages.Outbox.
func (c *Conn) Enqueue(frame []byte) bool { return c.out.Enqueue(frame) }

// Accepted sends the CONNECT answer with the session id: the client is in.
func (c *Conn) Accepted() {
	c.out.Enqueue(socketio.AppendConnect(nil, c.sid))
}

// Refuse answers the CONNECT with a CONNECT_ERROR carrying code, then leaves
// the client the grace period to close the socket itself before closing it.
func (c *Conn) Refuse(code messages.Code) {
	if !c.refused.CompareAndSwap(false, true) {
		return
	}
	c.out.Enqueue(socketio.AppendConnectError(nil, string(code)))
	c.endAfter(c.srv.cfg.ConnectErrorGrace, messages.CloseConnectRefused)
}

// Close ends the connection for reason: a DISCONNECT packet first when the
// reason calls for one, then the close frame with the reason's code. Frames
// already queued are still written. Safe from any goroutine, idempotent.
func (c *Conn) Close(reason messages.CloseReason) {
	if reason.SendsDisconnect() {
		c.out.close(reason, socketio.AppendDisconnect(nil))
		return
	}
	c.out.close(reason)
}

// serve runs the connection; done is called once it has ended. The
// handshake (OPEN, CONNECT, token verification) runs in the calling
// goroutine, bounded by ConnectTimeout; once the client is accepted the
// heartbeat timer bounds it instead, the socket goes to a fresh read pump
// (or straight to the poller when nothing is buffered) and serve returns. A
// verification's deep stack is not kept.
func (c *Conn) serve(done func()) {
	c.done = done
	c.ws.SetPingHandler(c.pong)
	c.ws.SetCloseHandler(func(int, string) error { return nil })
	c.startHeartbeat()
	c.out.Enqueue(socketio.AppendOpen(nil, socketio.OpenInfo{
		SID:          c.engineSID,
		PingInterval: c.srv.cfg.PingInterval,
		PingTimeout:  c.srv.cfg.PingTimeout,
		MaxPayload:   c.srv.cfg.MaxMessageBytes,
	}))
	if !c.closing.Load() { // closed already (shutdown): keep the close grace
		// Pongs never extend it: answering pings is not connecting.
		c.setReadDeadline(time.Now().Add(min(c.srv.cfg.ConnectTimeout, c.srv.cfg.PingInterval+c.srv.cfg.PingTimeout)))
	}
	for c.session == nil {
		if reason, end := c.readFrame(); end {
			c.end(reason)
			return
		}
	}
	c.rmu.Lock()
	if !c.aborting {
		// A grace set meanwhile (CONNECT_ERROR, close frame) has its timer too.
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	c.rstate = readRunning
	c.rmu.Unlock()
	if c.br.Buffered() > 0 || !c.park() {
		go c.readLoop()
	}
}

// pong answers a WebSocket ping (RFC 6455 §5.5.2) from the reader. It may
// write beside the write pump: each writes whole frames in one write call,
// which the socket serialises. Its deadline is the pump's, so it never
// shortens the one the pump relies on.
func (c *Conn) pong(data string) error {
	err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.srv.cfg.WriteTimeout))
	if errors.Is(err, websocket.ErrCloseSent) {
		return nil // closing: the close frame is the answer
	}
	return err
}

// setReadDeadline moves the read deadline unless an abort has set it in the
// past: that one must stand until the reader has failed on it.
func (c *Conn) setReadDeadline(t time.Time) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if !c.aborting {
		_ = c.nc.SetReadDeadline(t)
	}
}

// readState says who reads the socket.
type readState uint8

const (
	readHandshake readState = iota // the handshake goroutine, started by the upgrade handler
	readRunning                    // a read pump goroutine
	readParked                     // nobody: the socket waits in the poller
	readEnded
)

// readLoop is the read pump: it reads frames until gorilla's buffer is
// empty, then parks the socket with the poller and returns (without a
// poller it keeps reading).
func (c *Conn) readLoop() {
	for {
		if reason, end := c.readFrame(); end {
			c.end(reason)
			return
		}
		if c.br.Buffered() == 0 && c.park() {
			return
		}
	}
}

// park hands the socket to the poller; false means keep reading here.
func (c *Conn) park() bool {
	p := readPoller()
	if p == nil || c.raw == nil {
		return false
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rstate != readRunning || c.aborting {
		return false
	}
	c.rstate = readParked
	if p.arm(c) != nil {
		c.rstate = readRunning
		return false
	}
	return true
}

// readable is the poller's wake-up: a parked socket gets a read pump.
func (c *Conn) readable() {
	c.rmu.Lock()
	parked := c.rstate == readParked
	if parked {
		c.rstate = readRunning
	}
	c.rmu.Unlock()
	if parked {
		go c.readLoop()
	}
}

// end finishes the socket from its reader, which stops reading for good.
func (c *Conn) end(reason messages.CloseReason) {
	c.rmu.Lock()
	c.rstate = readEnded
	c.rmu.Unlock()
	c.forgetPoll()
	c.finish(reason)
	c.done()
}

// abort ends the socket from outside its reader (a missed pong, a grace
// that ran out, a failed write) with reason, unless an earlier one is set.
// A parked socket is finished here; a reader that is reading gets a read
// deadline in the past, fails its read and ends the socket itself, after
// the close frame has gone out.
func (c *Conn) abort(reason messages.CloseReason) {
	c.out.close(reason)
	c.rmu.Lock()
	state := c.rstate
	switch state {
	case readParked:
		c.rstate = readEnded
	case readHandshake, readRunning:
		// Sticky: the reader may be between reads, and must not park or
		// have the deadline cleared after the handshake.
		c.aborting = true
		_ = c.nc.SetReadDeadline(time.Unix(1, 0))
	}
	c.rmu.Unlock()
	if state == readParked {
		c.forgetPoll()
		c.finish(reason)
		c.done()
	}
}

func (c *Conn) forgetPoll() {
	if p := readPoller(); p != nil && c.raw != nil {
		p.remove(c)
	}
}

// finish closes the socket after the read pump ended with readReason. The
// queue keeps the first reason: an actor's close or a slow client wins over
// the read error it caused.
func (c *Conn) finish(readReason messages.CloseReason) {
	c.out.close(readReason)
	<-c.writerDone
	c.stopTimers()
	_ = c.nc.Close()
	reason := c.out.closeReason()
	c.srv.metrics.disconnects.WithLabelValues(reason.String()).Inc()
	if c.session != nil && !c.refused.Load() {
		c.session.Closed(reason)
	}
}

// readFrame reads and handles one frame; end reports the socket is over,
// and why.
func (c *Conn) readFrame() (reason messages.CloseReason, end bool) {
	limit := int64(c.srv.cfg.MaxMessageBytes)
	mt, r, err := c.ws.NextReader()
	if err != nil {
		return c.readErrorReason(err), true
	}
	frame, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return c.readErrorReason(err), true
	}
	if int64(len(frame)) > limit {
		c.securityEvent(security.EventMessageTooLarge, "")
		return messages.CloseMessageTooBig, true
	}
	if c.refused.Load() {
		return 0, false // waiting for the client to leave after CONNECT_ERROR
	}
	if mt == websocket.BinaryMessage {
		if c.skipAttachments > 0 {
			c.skipAttachments--
		} else {
			c.sendError(messages.CodeBinaryNotSupported)
		}
		return 0, false
	}
	return c.handleFrame(frame)
}

func (c *Conn) readErrorReason(err error) messages.CloseReason {
	var ne net.Error
	switch {
	case c.refused.Load():
		return messages.CloseConnectRefused
	case errors.As(err, &ne) && ne.Timeout():
		if c.session == nil {
			return messages.CloseHandshakeTimeout
		}
		return messages.ClosePingTimeout
	case websocket.IsCloseError(err, websocket.CloseMessageTooBig):
		return messages.CloseMessageTooBig
	default:
		var ce *websocket.CloseError
		if errors.As(err, &ce) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
			return messages.CloseClientLeft
		}
		if errors.Is(err, websocket.ErrReadLimit) {
			return messages.CloseMessageTooBig
		}
		// gorilla reports protocol violations (bad opcodes, masking) as plain errors.
		if isProtocolError(err) {
			c.securityEvent(security.EventMalformedPacket, err.Error())
			return messages.CloseMalformed
		}
		return messages.CloseClientLeft
	}
}

// handleFrame acts on one Engine.IO packet; end reports the connection is over.
func (c *Conn) handleFrame(frame []byte) (messages.CloseReason, bool) {
	p, err := socketio.Decode(frame)
	if errors.Is(err, socketio.ErrBinary) {
		// Never processed; the client may go on. Answer its ack if it asked
		// for one, so an emitWithAck does not hang.
		attachments, ackID := socketio.BinaryHeader(frame)
		c.skipAttachments = attachments
		if ackID != socketio.NoAck && c.session != nil {
			c.out.Enqueue(socketio.AppendAck(nil, ackID, messages.NewError(messages.CodeBinaryNotSupported).AckBody()))
		} else {
			c.sendError(messages.CodeBinaryNotSupported)
		}
		return 0, false
	}
	if err != nil {
		c.securityEvent(security.EventMalformedPacket, err.Error())
		return messages.CloseMalformed, true
	}
	c.srv.metrics.framesReceived.Inc()
	switch p.EIO {
	case socketio.EIOPong:
		c.onPong()
		return 0, false
	case socketio.EIOPing, socketio.EIONoop:
		return 0, false
	case socketio.EIOClose:
		return messages.CloseClientLeft, true
	case socketio.EIOMessage:
	default:
		c.securityEvent(security.EventMalformedPacket, "unexpected engine.io packet type")
		return messages.CloseMalformed, true
	}
	if p.Namespace != "/" {
		if p.Type == socketio.Connect {
			c.out.Enqueue(appendNamespaceError(nil, p.Namespace))
		}
		return 0, false // nothing else is served on other namespaces
	}
	switch p.Type {
	case socketio.Connect:
		if c.session == nil {
			c.connect(p.Data)
		}
		return 0, false
	case socketio.Event:
		if c.session == nil {
			c.securityEvent(security.EventMalformedPacket, "event before connect")
			return messages.CloseMalformed, true
		}
		c.session.Event(&messages.ClientEvent{Event: p.Event, Args: p.Args, AckID: p.AckID})
		return 0, false
	case socketio.Ack:
		return 0, false // the gateway never asks clients for acks
	case socketio.Disconnect:
		return messages.CloseClientLeft, true
	default:
		c.securityEvent(security.EventMalformedPacket, "unexpected socket.io packet type")
		return messages.CloseMalformed, true
	}
}

// connect authenticates a CONNECT in this goroutine (so verification runs in
// parallel across clients) and hands the client to the gateway.
func (c *Conn) connect(auth json.RawMessage) {
	token, present, err := tokenFromAuth(auth)
	header := c.authToken
	c.authToken = "" // one CONNECT per socket: never needed again
	if err != nil {
		c.securityEvent(security.EventAuthInvalid, err.Error())
		c.Refuse(messages.CodeInvalidToken)
		return
	}
	if !present {
		token = header
	}
	if token == "" {
		c.securityEvent(security.EventAuthMissing, "")
		c.Refuse(messages.CodeAuthRequired)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.srv.cfg.AuthTimeout)
	claims, err := c.srv.verifier.Verify(ctx, token)
	cancel()
	if err != nil {
		var we *messages.Error
		if errors.As(err, &we) && we.Code == messages.CodeAuthRequired {
			c.securityEvent(security.EventAuthMissing, "")
			c.Refuse(messages.CodeAuthRequired)
			return
		}
		c.securityEvent(security.EventAuthInvalid, security.Redact(err.Error()))
		c.Refuse(messages.CodeInvalidToken)
		return
	}
	c.session = c.srv.gateway.Accept(c, claims)
	c.accepted.Store(c.session != nil)
}

// tokenFromAuth reads {"token": "…"} from a CONNECT payload. present is false
// when there is no token field (or it is null or empty), so the
// Authorization header is tried; a token that is not a string is an error.
func tokenFromAuth(auth json.RawMessage) (token string, present bool, err error) {
	if len(auth) == 0 {
		return "", false, nil
	}
	var a struct {
		Token json.RawMessage `json:"token"`
	}
	if json.Unmarshal(auth, &a) != nil || len(a.Token) == 0 || string(a.Token) == "null" {
		return "", false, nil
	}
	if json.Unmarshal(a.Token, &token) != nil {
		return "", false, errTokenNotString
	}
	return token, token != "", nil
}

var errTokenNotString = errors.New("transport: the CONNECT token is not a string")

func (c *Conn) sendError(code messages.Code) {
	c.out.Enqueue(socketio.AppendEvent(nil, "error", messages.NewError(code).EventBody()))
}

func appendNamespaceError(dst []byte, ns string) []byte {
	dst = append(dst, "44"...)
	dst = append(dst, ns...)
	return append(dst, `,{"message":"Invalid namespace","data":{"code":"INVALID_NAMESPACE"}}`...)
}

func (c *Conn) securityEvent(ev security.Event, detail string) {
	c.srv.events.Emit(ev, security.EventFields{IP: c.ip, SID: c.sid, Detail: detail})
}

// writePump writes queued frames until the queue is empty, then returns (the
// next Enqueue starts another), or until it is closed, then sends the close
// frame and closes writerDone. The queue runs one at a time.
func (c *Conn) writePump() {
	w := frameWriters.Get().(*frameWriter)
	defer putFrameWriter(w)
	var done [][]byte // the previous batch, emptied, for the queue to reuse
	for {
		// Let the producers that started us run first: under load, rooms
		// queue more frames meanwhile and one writev carries them all.
		// Idle, the yield costs well under a microsecond.
		runtime.Gosched()
		frames, closed, reason, park := c.out.next(done)
		if park {
			return
		}
		if len(frames) > 0 && reason != messages.CloseSlowClient {
			if err := c.write(w, frames); err != nil {
				// A write that times out means the client stopped reading;
				// any other failure means it is gone.
				reason := messages.CloseClientLeft
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					reason = messages.CloseSlowClient
				}
				c.out.close(reason)
				clear(frames)
				close(c.writerDone)
				c.abort(reason) // the reader may be parked: nobody would notice
				return
			}
			c.srv.metrics.framesSent.Add(float64(len(frames)))
		}
		clear(frames)
		done = frames
		if closed {
			c.writeClose(reason)
			close(c.writerDone)
			return
		}
	}
}

// write hands frames to the socket in one vectored write. The write deadline
// moves at most once per deadlineSlack (or half WriteTimeout, if shorter):
// moving it costs a runtime timer update per write, so a write's real bound
// lies between WriteTimeout-slack and WriteTimeout.
func (c *Conn) write(w *frameWriter, frames [][]byte) error {
	if now := time.Now(); now.Sub(c.writeDeadlineAt) >= min(deadlineSlack, c.srv.cfg.WriteTimeout/2) {
		if err := c.nc.SetWriteDeadline(now.Add(c.srv.cfg.WriteTimeout)); err != nil {
			return err
		}
		c.writeDeadlineAt = now
	}
	return w.writeTo(c.nc, frames)
}

const deadlineSlack = time.Second

// writeClose sends the close frame and gives the client closeGrace to answer
// before the read pump gives up on it.
func (c *Conn) writeClose(reason messages.CloseReason) {
	deadline := time.Now().Add(c.srv.cfg.WriteTimeout)
	msg := websocket.FormatCloseMessage(reason.Code(), reason.String())
	c.closing.Store(true)
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, deadline)
	c.endAfter(closeGrace, reason)
}

// isProtocolError recognises gorilla's protocol-violation errors (bad opcode,
// unmasked client frame, bad close code), which it returns as plain errors.
func isProtocolError(err error) bool {
	return strings.HasPrefix(err.Error(), "websocket: ")
}

// closeGrace is how long the server waits for the client's close frame after
// sending its own, before dropping the TCP connection.
const closeGrace = time.Second

// frameWriter turns queued payloads into text frames written with one
// vectored write. Its buffers are reused across writes and, through
// frameWriters, across connections: a parked pump holds none.
type frameWriter struct {
	headers []byte
	iov     net.Buffers
}

var frameWriters = sync.Pool{New: func() any { return new(frameWriter) }}

// maxPooledFrames bounds the batch a pooled frameWriter keeps buffers for;
// a burst's larger ones go to the garbage collector.
const maxPooledFrames = 1024

func putFrameWriter(w *frameWriter) {
	if cap(w.iov) <= 2*maxPooledFrames {
		frameWriters.Put(w)
	}
}

// writeTo frames and writes; to a *net.TCPConn it is one writev per 1024 slices.
func (w *frameWriter) writeTo(dst io.Writer, frames [][]byte) error {
	w.headers = w.headers[:0]
	if cap(w.headers) < len(frames)*maxHeaderSize {
		w.headers = make([]byte, 0, len(frames)*maxHeaderSize)
	}
	w.iov = w.iov[:0]
	for _, f := range frames {
		start := len(w.headers)
		w.headers = appendTextHeader(w.headers, len(f))
		w.iov = append(w.iov, w.headers[start:len(w.headers):len(w.headers)], f)
	}
	iov := w.iov // WriteTo consumes its receiver; keep w.iov's backing array
	_, err := iov.WriteTo(dst)
	clear(w.iov)
	return err
}
