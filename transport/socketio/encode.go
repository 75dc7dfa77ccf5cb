package socketio

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// Encoders append one complete frame to dst and return the extended slice,
// like strconv.Append*. They allocate only when dst must grow, so callers on
// the broadcast path can encode once into a reused buffer. All packets are
// for the main namespace "/", the only one the gateway serves.

// OpenInfo is the Engine.IO handshake sent as the first frame of a session.
type OpenInfo struct {
	SID          string        // Engine.IO session id
	Upgrades     []string      // transports the session may upgrade to: "websocket" on polling, none on WebSocket
	PingInterval time.Duration // sent in whole milliseconds
	PingTimeout  time.Duration // sent in whole milliseconds
	MaxPayload   int           // bytes per frame the server accepts
}

// AppendOpen appends the Engine.IO open packet. A session opened on the
// WebSocket has no upgrades; one opened by long-polling offers "websocket":
//
//	0{"sid":"…","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":100000}
func AppendOpen(dst []byte, o OpenInfo) []byte {
	dst = append(dst, EIOOpen)
	dst = append(dst, `{"sid":`...)
	dst = appendString(dst, o.SID)
	dst = append(dst, `,"upgrades":[`...)
	for i, u := range o.Upgrades {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, u)
	}
	dst = append(dst, `],"pingInterval":`...)
	dst = strconv.AppendInt(dst, o.PingInterval.Milliseconds(), 10)
	dst = append(dst, `,"pingTimeout":`...)
	dst = strconv.AppendInt(dst, o.PingTimeout.Milliseconds(), 10)
	dst = append(dst, `,"maxPayload":`...)
	dst = strconv.AppendInt(dst, int64(o.MaxPayload), 10)
	return append(dst, '}')
}

// AppendConnect appends the CONNECT reply granting the main namespace, with
// the private session id pid when connection state recovery is on (an empty
// pid is left out):
//
//	40{"sid":"…"}  or  40{"sid":"…","pid":"…"}
func AppendConnect(dst []byte, sid, pid string) []byte {
	dst = append(dst, EIOMessage, Connect)
	dst = append(dst, `{"sid":`...)
	dst = appendString(dst, sid)
	if pid != "" {
		dst = append(dst, `,"pid":`...)
		dst = appendString(dst, pid)
	}
	return append(dst, '}')
}

// AppendConnectError appends a CONNECT_ERROR refusing the main namespace. The
// code doubles as the message so stock clients show something meaningful,
// and data.code lets client code branch on it:
//
//	44{"message":"CODE","data":{"code":"CODE"}}
func AppendConnectError(dst []byte, code string) []byte {
	dst = append(dst, EIOMessage, ConnectError)
	dst = append(dst, `{"message":`...)
	dst = appendString(dst, code)
	dst = append(dst, `,"data":{"code":`...)
	dst = appendString(dst, code)
	return append(dst, "}}"...)
}

// AppendDisconnect appends a DISCONNECT for the main namespace: 41
func AppendDisconnect(dst []byte) []byte {
	return append(dst, EIOMessage, Disconnect)
}

// AppendEvent appends an EVENT. data must already be valid JSON and is copied
// verbatim as the single argument; a nil or empty data sends no argument:
//
//	42["event",data]  or  42["event"]
func AppendEvent(dst []byte, event string, data json.RawMessage) []byte {
	dst = append(dst, EIOMessage, Event, '[')
	dst = appendString(dst, event)
	if len(data) > 0 {
		dst = append(dst, ',')
		dst = append(dst, data...)
	}
	return append(dst, ']')
}

// AppendEventWithOffset appends a room broadcast EVENT carrying its recovery
// offset as one more argument, last, a decimal string (what socket.io-client
// keeps as its last offset and sends back when it reconnects):
//
//	42["event",data,"17"]  or  42["event","17"]
func AppendEventWithOffset(dst []byte, event string, data json.RawMessage, offset uint64) []byte {
	dst = append(dst, EIOMessage, Event, '[')
	dst = appendString(dst, event)
	if len(data) > 0 {
		dst = append(dst, ',')
		dst = append(dst, data...)
	}
	dst = append(dst, ',', '"')
	dst = strconv.AppendUint(dst, offset, 10)
	return append(dst, '"', ']')
}

// AppendAck appends an ACK answering ackID, which must come from a decoded
// EVENT (0 ≤ ackID ≤ MaxAckID). data must already be valid JSON and is copied
// verbatim as the single argument; nil or empty sends []:
//
//	43<id>[data]
func AppendAck(dst []byte, ackID int64, data json.RawMessage) []byte {
	dst = append(dst, EIOMessage, Ack)
	dst = strconv.AppendInt(dst, ackID, 10)
	dst = append(dst, '[')
	dst = append(dst, data...)
	return append(dst, ']')
}

// AppendPing appends the Engine.IO heartbeat ping (server-initiated in v4): 2
func AppendPing(dst []byte) []byte {
	return append(dst, EIOPing)
}

// appendString appends s as a JSON string, byte-for-byte what json.Marshal
// produces: HTML-sensitive <, >, & and U+2028/U+2029 are \u-escaped (safe
// to embed anywhere) and invalid UTF-8 becomes \ufffd.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
