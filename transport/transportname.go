package transport

// TransportWebSocket names the WebSocket transport in the operator
// console's connection counts.
const TransportWebSocket = "websocket"

// Transport names the transport carrying c (a Conn is a WebSocket).
func (c *Conn) Transport() string { return TransportWebSocket }
