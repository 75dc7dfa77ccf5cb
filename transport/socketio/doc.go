// Package socketio is the wire codec for Engine.IO v4 / Socket.IO v5: one
// Engine.IO packet per WebSocket text frame, or several joined by the record
// separator in an HTTP long-polling payload (payload.go).
//
// It sits on the gateway's hot path between the WebSocket reader/writer and
// the session logic. Decode turns an inbound frame into a Packet; the Append*
// encoders write outbound frames into a caller-owned buffer so that a
// broadcast can be encoded once and reused without per-recipient allocation.
//
// Everything here is pure: no I/O, no goroutines, no mutable state. Decode is
// strict because the gateway closes the client on any error, and it must never
// panic on hostile input; it is fuzzed (FuzzDecode) against encoding/json as
// an oracle, and SplitPayload (FuzzSplitPayload). Binary packets are
// recognised only to be refused.
//
// Protocol references:
// https://github.com/socketio/engine.io-protocol (v4) and
// https://github.com/socketio/socket.io-protocol (v5).
package socketio
