package transport

// Transport names, as the operator console and logs show them.
const (
	TransportWebSocket = "websocket"
	TransportPolling   = "polling"
)

// Transport names the transport carrying c: a Conn is a WebSocket.
func (c *Conn) Transport() string { return TransportWebSocket }

// Transport names the transport carrying p: polling until it upgrades.
func (p *pollSession) Transport() string {
	if p.ws.Load() != nil {
		return TransportWebSocket
	}
	return TransportPolling
}
