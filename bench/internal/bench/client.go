package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/transport/socketio"
)

// socketIOPath is the Engine.IO v4 WebSocket endpoint every peer serves;
// pollingPath its long-polling endpoint (docs/PROTOCOL.md "Long-polling").
const (
	socketIOPath = "/socket.io/?EIO=4&transport=websocket"
	pollingPath  = "/socket.io/?EIO=4&transport=polling"
)

// handshakeTimeout bounds the upgrade, the CONNECT answer and a join ack
// when the caller's context has no earlier deadline.
const handshakeTimeout = 15 * time.Second

// Errors of the protocol client.
var (
	// ErrRefused is a CONNECT answered with CONNECT_ERROR.
	ErrRefused = errors.New("bench: connect refused")
	// ErrProtocol is a frame the client did not expect.
	ErrProtocol = errors.New("bench: protocol error")
	// ErrDisconnected is a Socket.IO DISCONNECT or Engine.IO CLOSE from the server.
	ErrDisconnected = errors.New("bench: disconnected by the server")
)

// Client is one Socket.IO v5 client, speaking only what the load needs:
// CONNECT with a token, join_room with an ack, answering pings, and
// receiving events. It is on a WebSocket (ws), on HTTP long-polling
// (poll), or was on polling and upgraded to a WebSocket (both set, the
// poller no longer used). One goroutine reads (Connect, Join, Receive);
// writes come from it and from Emit, serialised by writeMu (on polling one
// POST at a time, as Engine.IO requires).
type Client struct {
	ws      *websocket.Conn
	poll    *poller
	sid     string
	pid     string // the session's private id (CONNECT answer), for recovery
	writeMu sync.Mutex
	nextAck int64
	buf     []byte
	pend    []byte // polling: the packets of the last GET's payload not yet read (in buf)
}

// readBufferSize and writeBufferSize are small: frames are a few hundred
// bytes and thousands of clients share this process's memory.
const (
	readBufferSize  = 2048
	writeBufferSize = 512
	initialFrameCap = 512
)

// NewDialer returns a WebSocket dialer for the load: no compression, small
// buffers, and dial as the given NetDialContext (nil: the default).
func NewDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *websocket.Dialer {
	return &websocket.Dialer{
		NetDialContext:   dial,
		HandshakeTimeout: handshakeTimeout,
		ReadBufferSize:   readBufferSize,
		WriteBufferSize:  writeBufferSize,
	}
}

// Connect dials baseURL's Socket.IO endpoint, reads the OPEN packet, sends
// CONNECT with token and waits for the answer. A CONNECT_ERROR is returned
// as an error wrapping ErrRefused with the server's code.
func Connect(ctx context.Context, d *websocket.Dialer, baseURL, token string) (*Client, error) {
	return ConnectWith(ctx, ConnectOptions{Dialer: d}, baseURL, token)
}

// ConnectOptions says how ConnectWith reaches the server.
type ConnectOptions struct {
	// Transport is websocket (the zero value too), polling, or default
	// (polling handshake and CONNECT, then the upgrade to a WebSocket).
	Transport Transport
	// Dialer dials the WebSocket (websocket, and default's upgrade).
	Dialer *websocket.Dialer
	// HTTP carries the polling requests (polling and default); share one
	// among the clients, with enough idle connections per host.
	HTTP *http.Client
	// PollURL is the base URL every request after the handshake goes to
	// (POSTs, long polls, the upgrade); empty: the handshake's. A clustered
	// gateway relays a request for a session another node holds.
	PollURL string
	// PID and Offset make the CONNECT a recovering one (docs/PROTOCOL.md
	// "Connection state recovery"): the pid of the session to recover and
	// the offset of the last broadcast received from it (empty: none).
	PID    string
	Offset string
}

// ConnectWith connects to baseURL over o.Transport, sends CONNECT with
// token and waits for the answer, as Connect does. With the default
// transport it then probes the upgrade; a refused probe leaves the client
// polling, as socket.io-client does (Upgraded tells).
func ConnectWith(ctx context.Context, o ConnectOptions, baseURL, token string) (*Client, error) {
	switch o.Transport {
	case TransportPolling, TransportDefault:
		return connectPolling(ctx, o, baseURL, token)
	}
	d := o.Dialer
	if d == nil {
		d = NewDialer(nil)
	}
	ws, err := dialWS(ctx, d, baseURL, socketIOPath)
	if err != nil {
		return nil, err
	}
	c := &Client{ws: ws, buf: make([]byte, 0, initialFrameCap)}
	if err := c.handshake(ctx, token, o.PID, o.Offset); err != nil {
		_ = ws.Close()
		return nil, err
	}
	return c, nil
}

// dialWS opens the WebSocket at baseURL+path.
func dialWS(ctx context.Context, d *websocket.Dialer, baseURL, path string) (*websocket.Conn, error) {
	u := "ws" + strings.TrimPrefix(strings.TrimSuffix(baseURL, "/"), "http") + path
	ws, resp, err := d.DialContext(ctx, u, http.Header{})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("bench: upgrade: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("bench: dial: %w", err)
	}
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	return ws, nil
}

// handshake reads the OPEN packet of a WebSocket, then connects.
func (c *Client) handshake(ctx context.Context, token, pid, offset string) error {
	c.setDeadline(ctx)
	defer c.clearDeadline()
	frame, err := c.readFrame()
	if err != nil {
		return fmt.Errorf("bench: reading OPEN: %w", err)
	}
	if len(frame) == 0 || frame[0] != socketio.EIOOpen {
		return fmt.Errorf("%w: first frame %q is not OPEN", ErrProtocol, clip(frame))
	}
	return c.connectNamespace(ctx, token, pid, offset)
}

// connectNamespace sends CONNECT with token (and, to recover a session,
// its pid and last offset) and waits for its answer, answering pings
// meanwhile.
func (c *Client) connectNamespace(ctx context.Context, token, pid, offset string) error {
	c.setDeadline(ctx)
	defer c.clearDeadline()
	a := map[string]string{"token": token}
	if pid != "" {
		a["pid"] = pid
		if offset != "" {
			a["offset"] = offset
		}
	}
	auth, _ := json.Marshal(a)
	if err := c.write(append([]byte{socketio.EIOMessage, socketio.Connect}, auth...)); err != nil {
		return fmt.Errorf("bench: sending CONNECT: %w", err)
	}
	for {
		frame, err := c.readFrame()
		if err != nil {
			return fmt.Errorf("bench: waiting for the CONNECT answer: %w", err)
		}
		p, err := socketio.Decode(frame)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		switch {
		case p.EIO == socketio.EIOPing:
			if err := c.pong(); err != nil {
				return err
			}
		case p.EIO == socketio.EIOMessage && p.Type == socketio.Connect:
			var ans struct {
				SID string `json:"sid"`
				PID string `json:"pid"`
			}
			if json.Unmarshal(p.Data, &ans) != nil || ans.SID == "" {
				return fmt.Errorf("%w: CONNECT answer without sid: %q", ErrProtocol, clip(frame))
			}
			c.sid, c.pid = ans.SID, ans.PID
			return nil
		case p.EIO == socketio.EIOMessage && p.Type == socketio.ConnectError:
			return fmt.Errorf("%w: %s", ErrRefused, clip(p.Data))
		}
	}
}

// SID is the Socket.IO session id from the CONNECT answer (socket.id).
func (c *Client) SID() string { return c.sid }

// PID is the session's private id from the CONNECT answer; empty when the
// server does not offer recovery (RECOVERY_WINDOW=0).
func (c *Client) PID() string { return c.pid }

// eventOffset returns the offset of a room broadcast: its last argument,
// a decimal string (42["event",data,"118"]); ok is false for an event
// without one.
func eventOffset(frame []byte) (offset string, ok bool) {
	n := len(frame)
	if n < 5 || frame[n-1] != ']' || frame[n-2] != '"' {
		return "", false
	}
	i := n - 3
	for i >= 0 && frame[i] >= '0' && frame[i] <= '9' {
		i--
	}
	if i < 1 || i == n-3 || frame[i] != '"' || frame[i-1] != ',' {
		return "", false
	}
	return string(frame[i+1 : n-2]), true
}

// Join sends join_room for room with an ack id and waits for the ack.
// Events that arrive meanwhile go to onEvent (which may be nil).
func (c *Client) Join(ctx context.Context, room string, onEvent func(frame []byte)) error {
	id := c.nextAck
	c.nextAck++
	data, _ := json.Marshal(map[string]string{"room": room})
	msg := []byte{socketio.EIOMessage, socketio.Event}
	msg = strconv.AppendInt(msg, id, 10)
	msg = append(msg, `["join_room",`...)
	msg = append(msg, data...)
	msg = append(msg, ']')
	if err := c.write(msg); err != nil {
		return fmt.Errorf("bench: sending join_room: %w", err)
	}
	c.setDeadline(ctx)
	defer c.clearDeadline()
	for {
		frame, err := c.readFrame()
		if err != nil {
			return fmt.Errorf("bench: waiting for the join ack: %w", err)
		}
		switch {
		case len(frame) == 1 && frame[0] == socketio.EIOPing:
			if err := c.pong(); err != nil {
				return err
			}
		case isEvent(frame):
			if onEvent != nil {
				onEvent(frame)
			}
		case len(frame) > 2 && frame[0] == socketio.EIOMessage && frame[1] == socketio.Ack:
			p, err := socketio.Decode(frame)
			if err != nil || p.AckID != id {
				continue // an ack of an earlier Emit
			}
			var ans struct {
				Joined string `json:"joined"`
				Error  string `json:"error"`
			}
			if len(p.Args) == 0 || json.Unmarshal(p.Args[0], &ans) != nil || ans.Joined != room {
				return fmt.Errorf("%w: join %s: %q", ErrRefused, room, clip(frame))
			}
			return nil
		}
	}
}

// Emit sends an event without an ack id; safe alongside the reader.
func (c *Client) Emit(event string, data json.RawMessage) error {
	return c.write(socketio.AppendEvent(nil, event, data))
}

// Receive reads until the connection ends, answering pings and handing
// each EVENT frame to onEvent. The frame is valid only during the call. It
// returns why the connection ended: a *websocket.CloseError for a close
// frame, ErrDisconnected for a Socket.IO DISCONNECT, or the read error.
func (c *Client) Receive(onEvent func(frame []byte)) error {
	for {
		frame, err := c.readFrame()
		if err != nil {
			return err
		}
		switch {
		case isEvent(frame):
			onEvent(frame)
		case len(frame) == 1 && frame[0] == socketio.EIOPing:
			if err := c.pong(); err != nil {
				return err
			}
		case len(frame) == 2 && frame[0] == socketio.EIOMessage && frame[1] == socketio.Disconnect,
			len(frame) == 1 && frame[0] == socketio.EIOClose:
			return ErrDisconnected
		}
	}
}

// Close drops the connection at once; a blocked Receive returns. A
// polling client also tells the server (the Engine.IO close packet, in the
// background and bounded), as socket.io-client does.
func (c *Client) Close() error {
	if c.ws != nil {
		return c.ws.Close()
	}
	c.poll.close()
	return nil
}

// Upgraded reports whether the client is on a WebSocket after starting on
// polling (the default transport's upgrade succeeded).
func (c *Client) Upgraded() bool { return c.ws != nil && c.poll != nil }

// CloseCode returns the WebSocket close code in err, or 0 when err is not
// a close frame.
func CloseCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

func isEvent(frame []byte) bool {
	return len(frame) > 2 && frame[0] == socketio.EIOMessage && frame[1] == socketio.Event
}

func (c *Client) pong() error {
	return c.write([]byte{socketio.EIOPong})
}

func (c *Client) write(frame []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.ws == nil {
		return c.poll.post(frame)
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(handshakeTimeout))
	return c.ws.WriteMessage(websocket.TextMessage, frame)
}

// readFrame reads one whole message into the client's reused buffer: the
// next packet of the last long poll's payload, else a WebSocket message,
// else (on polling) a new long poll's first packet.
func (c *Client) readFrame() ([]byte, error) {
	if len(c.pend) > 0 {
		return c.nextPending(), nil
	}
	if c.ws == nil {
		return c.pollFrame()
	}
	_, r, err := c.ws.NextReader()
	if err != nil {
		return nil, err
	}
	b := c.buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			c.buf = b
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (c *Client) setDeadline(ctx context.Context) {
	deadline := time.Now().Add(handshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if c.ws == nil {
		c.poll.deadline = deadline
		return
	}
	_ = c.ws.SetReadDeadline(deadline)
}

// clearDeadline lifts setDeadline's limit (a long poll is then bounded by
// the session's ping interval and timeout).
func (c *Client) clearDeadline() {
	if c.ws == nil {
		c.poll.deadline = time.Time{}
		return
	}
	_ = c.ws.SetReadDeadline(time.Time{})
}

// clip shortens a frame for an error message.
func clip(b []byte) string {
	const max = 120
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
