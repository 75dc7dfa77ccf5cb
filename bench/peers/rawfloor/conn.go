package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/transport/socketio"
)

// Connection timings: the Engine.IO heartbeat the gateway also uses, and
// the bound of one socket write.
const (
	pingInterval = 25 * time.Second
	pingTimeout  = 20 * time.Second
	writeWait    = 10 * time.Second
	maxPayload   = 100000
)

// conn is one client: a read loop in the handler's goroutine and a write
// pump draining an unbounded queue (the load tool reads everything it is
// sent, so the floor needs no slow-client policy).
type conn struct {
	h     *hub
	ws    *websocket.Conn
	nc    net.Conn
	rooms []string // guarded by h.mu

	mu     sync.Mutex
	queue  [][]byte
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

func newConn(h *hub, ws *websocket.Conn) *conn {
	return &conn{h: h, ws: ws, nc: ws.NetConn(), wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// serve runs the connection until the client goes.
func (c *conn) serve() {
	go c.writePump()
	c.enqueue(socketio.AppendOpen(nil, socketio.OpenInfo{
		SID: newID(), PingInterval: pingInterval, PingTimeout: pingTimeout, MaxPayload: maxPayload,
	}))
	c.readLoop()
	c.close()
	<-c.done
	_ = c.nc.Close()
}

// readLoop answers CONNECT and join_room; everything else is ignored.
func (c *conn) readLoop() {
	for {
		_, frame, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		p, err := socketio.Decode(frame)
		if err != nil || p.EIO != socketio.EIOMessage {
			continue // pongs, and nothing the floor has to police
		}
		switch p.Type {
		case socketio.Connect:
			c.enqueue(socketio.AppendConnect(nil, newID(), ""))
		case socketio.Event:
			c.onEvent(&p)
		case socketio.Disconnect:
			return
		}
	}
}

func (c *conn) onEvent(p *socketio.Packet) {
	if p.Event != "join_room" || len(p.Args) == 0 {
		return
	}
	var req struct {
		Room string `json:"room"`
	}
	if json.Unmarshal(p.Args[0], &req) != nil || req.Room == "" {
		return
	}
	c.h.join(c, req.Room)
	if p.AckID != socketio.NoAck {
		ans, _ := json.Marshal(map[string]string{"joined": req.Room})
		c.enqueue(socketio.AppendAck(nil, p.AckID, ans))
	}
}

// enqueue queues a frame for the write pump; false once closed.
func (c *conn) enqueue(frame []byte) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.queue = append(c.queue, frame)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

func (c *conn) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writePump is the socket's only writer: queued frames, and a ping every
// pingInterval.
func (c *conn) writePump() {
	defer close(c.done)
	ticker := time.NewTicker(pingInterval)
	defer ticker.Stop()
	var (
		spare   [][]byte
		headers []byte
		iov     net.Buffers
		ping    = socketio.AppendPing(nil)
	)
	for {
		select {
		case <-c.wake:
		case <-ticker.C:
			c.enqueue(ping)
			continue
		}
		c.mu.Lock()
		frames, closed := c.queue, c.closed
		c.queue = spare[:0]
		c.mu.Unlock()
		if closed {
			return
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(writeWait))
		var err error
		if c.h.mode == modeSingle {
			for _, f := range frames {
				if err = c.ws.WriteMessage(websocket.TextMessage, f); err != nil {
					break
				}
			}
		} else {
			if cap(headers) < len(frames)*maxHeaderSize {
				headers = make([]byte, 0, len(frames)*maxHeaderSize)
			}
			headers, iov = headers[:0], iov[:0]
			for _, f := range frames {
				start := len(headers)
				headers = appendTextHeader(headers, len(f))
				iov = append(iov, headers[start:len(headers):len(headers)], f)
			}
			w := iov // WriteTo consumes its receiver; keep iov's backing array
			_, err = w.WriteTo(c.nc)
		}
		clear(frames)
		clear(iov)
		spare = frames
		if err != nil {
			_ = c.nc.Close() // ends the read loop
			return
		}
	}
}

// newID returns a random 20-character id.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
