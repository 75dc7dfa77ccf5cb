package transport

import (
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/transport/socketio"
)

// disconnectFrame is the Socket.IO DISCONNECT sent before a close that calls for one.
var disconnectFrame = socketio.AppendDisconnect(nil)

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
				reason := messages.CloseTransportClosed
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

// queueClosed runs when the connection's queue turns closed. A queue that
// overflowed belongs to a client that stopped reading: the connection ends
// for the actors now (its rooms, presence and metrics let go of it at once),
// while the pump, likely blocked in a write, sends the close frame (1013)
// once the client reads again or WRITE_TIMEOUT passes.
func (c *Conn) queueClosed(reason messages.CloseReason) {
	if reason == messages.CloseSlowClient {
		c.closed(reason)
	}
}

// writeClose sends the close frame and gives the client closeGrace to answer
// before the read pump gives up on it.
func (c *Conn) writeClose(reason messages.CloseReason) {
	deadline := time.Now().Add(c.srv.cfg.WriteTimeout)
	msg := websocket.FormatCloseMessage(reason.Code(), reason.String())
	c.closing.Store(true)
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, deadline)
	c.endAfter(closeGrace, reason)
}

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
