package transport

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
)

// Conn is one WebSocket carrying a Socket.IO session (its socket). Both of
// its pumps run on demand: the write pump while frames are queued (the
// outbound queue starts it, and it ends when the queue is empty; writer.go),
// the read pump while there is something to read (the poller starts it when
// the socket turns readable, and it ends when gorilla's buffer is empty and
// the socket is parked with the poller again). An idle client holds no
// goroutine. There is never more than one of each: they are the only reader
// and the only writer of the socket (gorilla/websocket allows one of each).
// Everything else talks to the client through the bounded outbound queue.
//
// A Conn opened with the sid of a polling session is that session's upgrade
// probe (upgrade.go): it answers the probe, and on the client's UPGRADE
// packet takes over the session's socket.
type Conn struct {
	*socket
	ws         *websocket.Conn
	nc         net.Conn
	writerDone chan struct{} // closed by the write pump that ends the socket
	done       func()        // tells the Server the socket is over
	br         *bufio.Reader // gorilla's read buffer: the pump parks only when it is empty
	raw        syscall.RawConn

	// The read pump's state, under rmu: who reads the socket now.
	rmu      sync.Mutex
	rstate   readState
	aborting bool   // abort set a past read deadline: the reader must read on, not park
	pollID   uint64 // the poller's id for the socket, under the poller's lock

	// writeDeadlineAt is when the write deadline was last moved; write
	// pumps run one at a time, and the queue's lock orders one's end
	// before the next one's start.
	writeDeadlineAt time.Time

	// probe is the polling session this WebSocket probes an upgrade for,
	// until the upgrade completes (then socket is the session's) or fails.
	probe *pollSession
}

var _ messages.Client = (*Conn)(nil)

// Close ends the connection for reason: a DISCONNECT packet first when the
// reason calls for one, then the close frame with the reason's code. Frames
// already queued are still written. Safe from any goroutine, idempotent.
func (c *Conn) Close(reason messages.CloseReason) {
	if reason.SendsDisconnect() {
		c.out.close(reason, disconnectFrame)
		return
	}
	c.out.close(reason)
}

// serve runs the connection; done is called once it has ended. The
// handshake (OPEN, CONNECT, token verification; or an upgrade probe) runs
// in the calling goroutine, bounded by a read deadline (CONNECT_TIMEOUT);
// once the client is accepted the heartbeat timer bounds it instead, the
// socket goes to a fresh read pump (or straight to the poller when nothing
// is buffered) and serve returns. A verification's deep stack is not kept.
func (c *Conn) serve(done func()) {
	c.done = done
	c.ws.SetPingHandler(c.pong)
	c.ws.SetCloseHandler(func(int, string) error { return nil })
	c.setReadDeadline(time.Now().Add(c.handshakeLimit()))
	if c.probe != nil {
		if !c.upgrade() {
			return
		}
	} else {
		c.startHeartbeat()
		c.out.Enqueue(c.openPacket())
		for c.session == nil {
			if reason, end := c.readFrame(); end {
				c.end(reason)
				return
			}
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

// graceStarted implements carrier: a reader blocked on the socket fails at t.
func (c *Conn) graceStarted(t time.Time) { c.setReadDeadline(t) }

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
	c.closed(c.out.closeReason())
}

// readFrame reads and handles one frame; end reports the socket is over,
// and why.
func (c *Conn) readFrame() (reason messages.CloseReason, end bool) {
	frame, binary, reason, end := c.nextFrame()
	if end || frame == nil {
		return reason, end
	}
	if binary {
		c.binaryFrame()
		return 0, false
	}
	return c.handlePacket(frame)
}

// nextFrame reads one frame within MAX_MESSAGE_BYTES; a nil frame without
// end is one to ignore (the client is waited for to leave after a
// CONNECT_ERROR).
func (c *Conn) nextFrame() (frame []byte, binary bool, reason messages.CloseReason, end bool) {
	limit := int64(c.srv.cfg.MaxMessageBytes)
	mt, r, err := c.ws.NextReader()
	if err != nil {
		return nil, false, c.readErrorReason(err), true
	}
	frame, err = io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, false, c.readErrorReason(err), true
	}
	if int64(len(frame)) > limit {
		c.securityEvent(security.EventMessageTooLarge, "")
		return nil, false, messages.CloseMessageTooBig, true
	}
	if c.refused.Load() {
		return nil, false, 0, false
	}
	return frame, mt == websocket.BinaryMessage, 0, false
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
			return messages.CloseTransportClosed
		}
		if errors.Is(err, websocket.ErrReadLimit) {
			return messages.CloseMessageTooBig
		}
		// What is left is either the socket failing (a net.Error) or one of
		// gorilla's protocol violations (bad opcode, unmasked client frame,
		// bad close code), which it returns as untyped errors after sending
		// the close frame itself.
		if !errors.As(err, &ne) {
			c.securityEvent(security.EventMalformedPacket, err.Error())
			return messages.CloseMalformed
		}
		return messages.CloseTransportClosed
	}
}

// closeGrace is how long the server waits for the client's close frame after
// sending its own, before dropping the TCP connection.
const closeGrace = time.Second
