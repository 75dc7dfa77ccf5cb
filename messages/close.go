package messages

// CloseReason names one way a connection can end. Each has a WebSocket close
// code and a label for logs and the ws_disconnects_total metric.
//
// Codes 1000/1001 tell a Socket.IO client the server went away on purpose and
// it may reconnect; 1008, 1009 and 1002 mean the client's own input or
// credentials were at fault and reconnecting as before will fail again.
type CloseReason uint8

// Close reasons.
const (
	CloseClientLeft       CloseReason = iota // client sent the Socket.IO DISCONNECT (41)
	ClosePingTimeout                         // no pong within pingTimeout
	CloseSlowClient                          // outbound queue full
	CloseMessageTooBig                       // a frame over MAX_MESSAGE_BYTES
	CloseTokenExpired                        // token reached exp unrefreshed
	CloseInvalidToken                        // token_refresh refused
	CloseMalformed                           // protocol violation
	CloseConnectRefused                      // CONNECT_ERROR sent
	CloseServerShutdown                      // SIGTERM drain
	CloseActorFailure                        // the connection actor failed
	CloseKicked                              // stopped by policy or an operator
	CloseHandshakeTimeout                    // no CONNECT in time
	CloseTransportClosed                     // the transport ended under the session: EOF, close frame, Engine.IO close (1), a failed write
	CloseEventFlood                          // too many events waiting for the connection actor
	closeReasonCount
)

var closeReasonNames = [closeReasonCount]string{
	CloseClientLeft:       "client_left",
	ClosePingTimeout:      "ping_timeout",
	CloseSlowClient:       "slow_client",
	CloseMessageTooBig:    "message_too_big",
	CloseTokenExpired:     "token_expired",
	CloseInvalidToken:     "invalid_token",
	CloseMalformed:        "malformed_packet",
	CloseConnectRefused:   "connect_refused",
	CloseServerShutdown:   "server_shutdown",
	CloseActorFailure:     "actor_failure",
	CloseKicked:           "kicked",
	CloseHandshakeTimeout: "handshake_timeout",
	CloseTransportClosed:  "transport_closed",
	CloseEventFlood:       "event_flood",
}

var closeReasonCodes = [closeReasonCount]int{
	CloseClientLeft:       1000,
	ClosePingTimeout:      1000,
	CloseSlowClient:       1013, // try again later
	CloseMessageTooBig:    1009,
	CloseTokenExpired:     1008,
	CloseInvalidToken:     1008,
	CloseMalformed:        1002,
	CloseConnectRefused:   1008,
	CloseServerShutdown:   1001,
	CloseActorFailure:     1011,
	CloseKicked:           1008,
	CloseHandshakeTimeout: 1002,
	CloseTransportClosed:  1000,
	CloseEventFlood:       1008, // policy violation
}

// String returns the reason's stable snake_case label.
func (r CloseReason) String() string {
	if r < closeReasonCount {
		return closeReasonNames[r]
	}
	return "unknown"
}

// Code returns the WebSocket close code sent for this reason.
func (r CloseReason) Code() int {
	if r < closeReasonCount {
		return closeReasonCodes[r]
	}
	return 1011
}

// SendsDisconnect reports whether the client is told with a Socket.IO
// DISCONNECT packet before the close frame: when the server ends a healthy
// session on purpose and for good, so socket.io-client reports "io server
// disconnect" and does not reconnect. A server shutdown sends none
// (docs/PROTOCOL.md "Close codes"): the client sees "transport close", reconnects by itself and
// recovers its session (§9).
func (r CloseReason) SendsDisconnect() bool {
	switch r {
	case CloseTokenExpired, CloseInvalidToken, CloseKicked:
		return true
	}
	return false
}

// Recoverable reports whether a session that ended for this reason is kept
// for RECOVERY_WINDOW (docs/PROTOCOL.md "Connection state recovery"): the transport failed under it, not the
// client, its credentials or the gateway's own actors.
func (r CloseReason) Recoverable() bool {
	switch r {
	case CloseTransportClosed, ClosePingTimeout, CloseSlowClient, CloseServerShutdown:
		return true
	}
	return false
}

// AllCloseReasons lists every reason, for metrics pre-registration and tests.
func AllCloseReasons() []CloseReason {
	out := make([]CloseReason, closeReasonCount)
	for i := range out {
		out[i] = CloseReason(i)
	}
	return out
}
