package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/transport/socketio"
)

// Transport is how the load tool's clients reach the server.
type Transport string

// The transports a client can use.
const (
	// TransportWebSocket is a WebSocket from the start
	// (socket.io-client's transports: ['websocket']).
	TransportWebSocket Transport = "websocket"
	// TransportPolling is Engine.IO v4 HTTP long-polling only
	// (transports: ['polling']).
	TransportPolling Transport = "polling"
	// TransportDefault is what socket.io-client does with its default
	// options: the handshake and CONNECT on polling, then the upgrade
	// probe (2probe, 3probe, 5) and the rest on a WebSocket.
	TransportDefault Transport = "default"
)

// ParseTransport returns the transport called name.
func ParseTransport(name string) (Transport, error) {
	switch t := Transport(name); t {
	case TransportWebSocket, TransportPolling, TransportDefault:
		return t, nil
	}
	return "", fmt.Errorf("unknown transport %q: want websocket, polling or default", name)
}

// polls reports whether the transport starts on HTTP long-polling.
func (t Transport) polls() bool { return t == TransportPolling || t == TransportDefault }

// socketsPerClient is how many TCP connections one client may hold at once:
// a polling client's long poll and a POST, or one WebSocket.
func (t Transport) socketsPerClient() int {
	if t.polls() {
		return 2
	}
	return 1
}

// Polling timings.
const (
	// pollSlack is added to the server's ping interval and timeout to bound
	// a long poll that no deadline limits: the server answers one at least
	// every ping interval.
	pollSlack = 5 * time.Second
	// closePostTimeout bounds the close packet Close sends in the background.
	closePostTimeout = 2 * time.Second
	// httpIdleTimeout closes pooled HTTP connections nobody used for this long.
	httpIdleTimeout = 30 * time.Second
)

// recordSeparator joins the packets of a polling payload (Engine.IO v4).
const recordSeparator = 0x1e

// NewHTTPClient returns the HTTP client the polling clients of a run share:
// keep-alive connections pooled per host, idleConns of them kept (a polling
// client holds its long poll and a POST at once), no compression, no overall
// timeout (each request has its own context). dial dials the connections
// (nil: the default dialer).
func NewHTTPClient(idleConns int, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	return &http.Client{Transport: &http.Transport{
		DialContext:         dial,
		MaxIdleConns:        idleConns,
		MaxIdleConnsPerHost: idleConns,
		IdleConnTimeout:     httpIdleTimeout,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		// The requests' contexts bound them; nothing here may cut a long poll.
	}}
}

// roundRobinDial spreads connections over dials in turn.
func roundRobinDial(dials []func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if len(dials) == 1 {
		return dials[0]
	}
	var n atomic.Uint64
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dials[(n.Add(1)-1)%uint64(len(dials))](ctx, network, addr)
	}
}

// poller is a client's Engine.IO long-polling session: the session URL
// (sid included) that POSTs and long polls go to, and the context Close
// cancels to end a pending poll.
type poller struct {
	http     *http.Client
	url      string // base + pollingPath + &sid=…
	base     string // base URL of the requests after the handshake
	sid      string // Engine.IO session id
	life     time.Duration
	ctx      context.Context
	cancel   context.CancelFunc
	deadline time.Time // read deadline of the next long poll (the reader's); zero: life
	closed   atomic.Bool
}

// openPacket is the OPEN packet's JSON.
type openPacket struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"` // ms
	PingTimeout  int64    `json:"pingTimeout"`  // ms
}

// connectPolling opens a polling session at baseURL (the handshake GET),
// sends CONNECT and waits for its answer on long polls; with the default
// transport it then probes the upgrade to a WebSocket.
func connectPolling(ctx context.Context, o ConnectOptions, baseURL, token string) (*Client, error) {
	if o.HTTP == nil {
		o.HTTP = NewHTTPClient(4, nil)
	}
	base := strings.TrimSuffix(baseURL, "/")
	pollBase := strings.TrimSuffix(o.PollURL, "/")
	if pollBase == "" {
		pollBase = base
	}
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	c := &Client{buf: make([]byte, 0, initialFrameCap)}
	body, err := pollGET(hctx, o.HTTP, base+pollingPath, c.buf[:0])
	if err != nil {
		return nil, fmt.Errorf("bench: polling handshake: %w", err)
	}
	c.buf = body
	first, rest, _ := bytes.Cut(body, []byte{recordSeparator})
	if len(first) == 0 || first[0] != socketio.EIOOpen {
		return nil, fmt.Errorf("%w: handshake answered %q, not OPEN", ErrProtocol, clip(body))
	}
	var open openPacket
	if err := json.Unmarshal(first[1:], &open); err != nil || open.SID == "" {
		return nil, fmt.Errorf("%w: OPEN without sid: %q", ErrProtocol, clip(first))
	}
	life := time.Duration(open.PingInterval+open.PingTimeout)*time.Millisecond + pollSlack
	pctx, pcancel := context.WithCancel(context.Background())
	c.poll = &poller{http: o.HTTP, base: pollBase, sid: open.SID, life: life, ctx: pctx, cancel: pcancel,
		url: pollBase + pollingPath + "&sid=" + url.QueryEscape(open.SID)}
	c.pend = rest
	if err := c.connectNamespace(ctx, token, o.PID, o.Offset); err != nil {
		c.poll.close()
		return nil, err
	}
	if o.Transport == TransportDefault && slices.Contains(open.Upgrades, "websocket") {
		if err := c.upgrade(ctx, o); err != nil && ctx.Err() != nil {
			c.poll.close()
			return nil, err
		}
	}
	return c, nil
}

// upgrade probes a WebSocket for the polling session, as engine.io-client
// does: 2probe, 3probe, (polling paused: this client polls only when it
// reads, so no long poll is pending now), 5. Then the WebSocket carries the
// session. A probe that fails leaves the client polling.
func (c *Client) upgrade(ctx context.Context, o ConnectOptions) error {
	d := o.Dialer
	if d == nil {
		d = NewDialer(nil)
	}
	ws, err := dialWS(ctx, d, c.poll.base, socketIOPath+"&sid="+url.QueryEscape(c.poll.sid))
	if err != nil {
		return err
	}
	deadline := time.Now().Add(handshakeTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = ws.SetWriteDeadline(deadline)
	_ = ws.SetReadDeadline(deadline)
	fail := func(err error) error {
		_ = ws.Close()
		return fmt.Errorf("bench: upgrade probe: %w", err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, socketio.ProbePing); err != nil {
		return fail(err)
	}
	_, msg, err := ws.ReadMessage()
	if err != nil {
		return fail(err)
	}
	if !bytes.Equal(msg, socketio.ProbePong) {
		return fail(fmt.Errorf("%w: probe answered %q", ErrProtocol, clip(msg)))
	}
	if err := ws.WriteMessage(websocket.TextMessage, socketio.UpgradePacket); err != nil {
		return fail(err)
	}
	_ = ws.SetWriteDeadline(time.Time{})
	_ = ws.SetReadDeadline(time.Time{})
	c.writeMu.Lock()
	c.ws = ws
	c.writeMu.Unlock()
	c.poll.cancel() // no long poll is pending; the session lives on the WebSocket
	return nil
}

// pollFrame runs one long poll and returns the first packet of its payload;
// the others wait in c.pend.
func (c *Client) pollFrame() ([]byte, error) {
	p := c.poll
	deadline := p.deadline
	if deadline.IsZero() {
		deadline = time.Now().Add(p.life)
	}
	ctx, cancel := context.WithDeadline(p.ctx, deadline)
	defer cancel()
	body, err := pollGET(ctx, p.http, p.url, c.buf[:0])
	if err != nil {
		if p.closed.Load() {
			return nil, fmt.Errorf("bench: long poll: client closed: %w", err)
		}
		return nil, fmt.Errorf("bench: long poll: %w", err)
	}
	c.buf = body
	c.pend = body
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty long-poll answer", ErrProtocol)
	}
	return c.nextPending(), nil
}

// nextPending cuts the next packet off c.pend.
func (c *Client) nextPending() []byte {
	frame, rest, _ := bytes.Cut(c.pend, []byte{recordSeparator})
	c.pend = rest
	return frame
}

// pollGET runs a GET and appends its 200 answer's body to buf.
func pollGET(ctx context.Context, hc *http.Client, u string, buf []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	buf, err = appendBody(buf, resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, clip(buf))
	}
	return buf, nil
}

// post sends one packet by POST (the caller holds the client's writeMu).
func (p *poller) post(packet []byte) error {
	ctx, cancel := context.WithTimeout(p.ctx, handshakeTimeout)
	defer cancel()
	return postPacket(ctx, p.http, p.url, packet)
}

// postPacket POSTs a payload of one packet and expects 200 "ok".
func postPacket(ctx context.Context, hc *http.Client, u string, packet []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(packet))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("bench: POST: %w", err)
	}
	defer resp.Body.Close()
	var small [64]byte
	b, _ := appendBody(small[:0], io.LimitReader(resp.Body, int64(len(small))))
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bench: POST: HTTP %d: %s", resp.StatusCode, clip(b))
	}
	return nil
}

// close ends a pending long poll and sends the Engine.IO close packet in
// the background (bounded by closePostTimeout), once.
func (p *poller) close() {
	if !p.closed.CompareAndSwap(false, true) {
		return
	}
	p.cancel()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), closePostTimeout)
		defer cancel()
		_ = postPacket(ctx, p.http, p.url, []byte{socketio.EIOClose})
	}()
}

// appendBody reads r to its end, appending to buf.
func appendBody(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
