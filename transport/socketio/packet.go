package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Engine.IO packet types: the first byte of every frame.
const (
	EIOOpen    byte = '0' // server → client handshake; a client sending it is misbehaving
	EIOClose   byte = '1' // transport close request
	EIOPing    byte = '2' // heartbeat (server-initiated in EIO v4)
	EIOPong    byte = '3' // heartbeat reply
	EIOMessage byte = '4' // carries one Socket.IO packet
	EIOUpgrade byte = '5' // transport upgrade completion
	EIONoop    byte = '6' // no-op used during upgrades
)

// Socket.IO packet types: the second byte of an EIOMessage frame.
const (
	Connect      byte = '0' // join a namespace (optional auth object)
	Disconnect   byte = '1' // leave a namespace
	Event        byte = '2' // ["name", args...]
	Ack          byte = '3' // reply to an Event that carried an ack id
	ConnectError byte = '4' // namespace join refused
	BinaryEvent  byte = '5' // unsupported: needs follow-up binary frames
	BinaryAck    byte = '6' // unsupported: needs follow-up binary frames
)

// NoAck is Packet.AckID when the packet carries no acknowledgement id.
const NoAck int64 = -1

// MaxAckID is the largest ack id accepted: ids are JS numbers on the client,
// so anything above 2^53-1 cannot have been produced faithfully.
const MaxAckID int64 = 1<<53 - 1

// maxAckDigits is len("9007199254740991"); longer digit runs are rejected
// before accumulating so the int64 can never overflow.
const maxAckDigits = 16

// MaxJSONDepth bounds array/object nesting in payloads; deeper input is
// malformed. It keeps downstream json.Unmarshal calls cheap and predictable.
const MaxJSONDepth = 64

// Sentinel errors. Decode wraps ErrMalformed with a reason; test with errors.Is.
var (
	// ErrMalformed reports a frame that violates the protocol or JSON grammar.
	ErrMalformed = errors.New("socketio: malformed packet")
	// ErrBinary reports a BINARY_EVENT/BINARY_ACK, which the gateway does not support.
	ErrBinary = errors.New("socketio: binary packets are not supported")
	// ErrEmpty reports a zero-length frame.
	ErrEmpty = errors.New("socketio: empty frame")
)

// Packet is one decoded frame.
//
// Args and Data are sub-slices of the frame passed to Decode (no copy): they
// are only valid while that buffer is. Copy them before retaining the packet
// past the frame's lifetime or reusing the read buffer.
type Packet struct {
	EIO       byte              // Engine.IO type
	Type      byte              // Socket.IO type, only when EIO == EIOMessage
	Namespace string            // "/" when absent
	AckID     int64             // NoAck when absent
	Event     string            // EVENT: the event name (first array element, unquoted)
	Args      []json.RawMessage // EVENT: the elements after the name; ACK: all elements
	Data      json.RawMessage   // CONNECT: optional auth object; CONNECT_ERROR: optional payload
}

func malformed(reason string) error {
	return fmt.Errorf("%w: %s", ErrMalformed, reason)
}

// Decode parses one WebSocket text frame.
//
// It is strict: any deviation from the Engine.IO v4 / Socket.IO v5 encoding,
// invalid UTF-8, invalid JSON, JSON nested deeper than MaxJSONDepth or
// trailing bytes yield an error wrapping ErrMalformed; binary Socket.IO
// packets yield ErrBinary and empty frames ErrEmpty. On error the returned
// Packet is the zero value. Non-message Engine.IO packets are returned with
// only EIO (plus the Namespace/AckID defaults) set; ping/pong may carry a
// trailing probe text, which is ignored.
func Decode(frame []byte) (Packet, error) {
	if len(frame) == 0 {
		return Packet{}, ErrEmpty
	}
	if !utf8.Valid(frame) {
		return Packet{}, malformed("invalid UTF-8")
	}
	p := Packet{EIO: frame[0], Namespace: "/", AckID: NoAck}
	switch frame[0] {
	case EIOMessage:
		// handled below
	case EIOPing, EIOPong, EIOOpen:
		// ping/pong may carry "probe"; open is server-only, the caller rejects it.
		return p, nil
	case EIOClose, EIOUpgrade, EIONoop:
		if len(frame) != 1 {
			return Packet{}, malformed("unexpected data after engine.io packet type")
		}
		return p, nil
	default:
		return Packet{}, malformed("unknown engine.io packet type")
	}

	if len(frame) < 2 {
		return Packet{}, malformed("missing socket.io packet type")
	}
	p.Type = frame[1]
	switch p.Type {
	case Connect, Disconnect, Event, Ack, ConnectError:
	case BinaryEvent, BinaryAck:
		return Packet{}, ErrBinary
	default:
		return Packet{}, malformed("unknown socket.io packet type")
	}

	// <namespace>, : starts with '/', ends at the first ',' or end of frame.
	// There is no escaping, so a namespace never contains a comma.
	i := 2
	if i < len(frame) && frame[i] == '/' {
		ns := frame[i:]
		if j := bytes.IndexByte(ns, ','); j >= 0 {
			ns = ns[:j]
			i += j + 1
		} else {
			i = len(frame)
		}
		if len(ns) > 1 {
			p.Namespace = string(ns)
		}
	}

	// <ack id>: digits right before the payload. Only meaningful on EVENT
	// (requesting an ack) and ACK (answering one); elsewhere it is malformed.
	if i < len(frame) && isDigit(frame[i]) {
		if p.Type != Event && p.Type != Ack {
			return Packet{}, malformed("ack id on a packet type that cannot carry one")
		}
		start := i
		var id int64
		for ; i < len(frame) && isDigit(frame[i]); i++ {
			if i-start == maxAckDigits {
				return Packet{}, malformed("ack id too long")
			}
			id = id*10 + int64(frame[i]-'0')
		}
		if id > MaxAckID {
			return Packet{}, malformed("ack id exceeds 2^53-1")
		}
		p.AckID = id
	}

	// The payload must start right here: the reference parser would read a
	// leading space as part of the ack id, so accepting it would be ambiguous.
	payload := frame[i:]
	var err error
	switch p.Type {
	case Connect:
		if len(payload) == 0 {
			return p, nil
		}
		if payload[0] != '{' {
			return Packet{}, malformed("CONNECT payload must be a JSON object")
		}
		if p.Data, err = wholeValue(payload); err != nil {
			return Packet{}, err
		}
	case ConnectError:
		if len(payload) == 0 {
			return p, nil
		}
		if payload[0] != '{' && payload[0] != '"' {
			return Packet{}, malformed("CONNECT_ERROR payload must be a JSON object or string")
		}
		if p.Data, err = wholeValue(payload); err != nil {
			return Packet{}, err
		}
	case Disconnect:
		if len(payload) != 0 {
			return Packet{}, malformed("DISCONNECT carries no payload")
		}
	case Event:
		if len(payload) == 0 || payload[0] != '[' {
			return Packet{}, malformed("EVENT payload must be a JSON array")
		}
		it := arrayIter{b: payload, i: 1}
		name, ok, err := it.next()
		if err != nil {
			return Packet{}, err
		}
		if !ok {
			return Packet{}, malformed("EVENT payload must be a non-empty array")
		}
		if name[0] != '"' {
			return Packet{}, malformed("EVENT name must be a JSON string")
		}
		if p.Args, err = it.rest(nil); err != nil {
			return Packet{}, err
		}
		p.Event = unquote(name)
	case Ack:
		if p.AckID == NoAck {
			return Packet{}, malformed("ACK without ack id")
		}
		if len(payload) == 0 || payload[0] != '[' {
			return Packet{}, malformed("ACK payload must be a JSON array")
		}
		it := arrayIter{b: payload, i: 1}
		if p.Args, err = it.rest(nil); err != nil {
			return Packet{}, err
		}
	}
	return p, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
