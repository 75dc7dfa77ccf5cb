package cluster

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// Wire formats. Every payload starts with wireVersion so a later format can be
// told apart; a node drops (and counts) payloads it cannot decode.
//
//	room message  (subject <prefix>.room.<token(room)>, reply subject set when a count is wanted)
//	  version:1 | uvarint reqID (0 = no count wanted) | uvarint len | origin | uvarint len | event | data...
//	count reply   (subject <prefix>.rep.<token(origin)>)
//	  version:1 | uvarint reqID | uvarint count | node...
//	control       (subject <prefix>.ctl)
//	  version:1 | kind:1 | instance:8 (big endian) | uvarint len | node | body
//	  kind 'A' (hosting room) and 'D' (stopped hosting room): body = room...
//	  kind 'H' (heartbeat part): uvarint gen | uvarint part | uvarint parts | (uvarint len | room)*
//	  kind 'B' (goodbye): empty body
//	  kind 'Q' (query: "send me your set", after a reconnect): empty body
const wireVersion = 1

// Control message kinds.
const (
	ctlAdd       = 'A'
	ctlDel       = 'D'
	ctlHeartbeat = 'H'
	ctlBye       = 'B'
	ctlQuery     = 'Q'
)

// maxRoomLen bounds a room name so that its subject (4/3 of it, plus prefix)
// and a reply subject fit in NATS's 4 KiB protocol control line.
const maxRoomLen = 1024

var errMalformed = errors.New("cluster: malformed payload")

// token escapes any string into a single safe NATS subject token: unpadded
// base64url uses only [A-Za-z0-9_-], none of which is '.', '*', '>' or space.
func token(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// appendString appends a uvarint length and s.
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// readBytes reads a uvarint-length-prefixed field; the result aliases b.
func readBytes(b []byte) (field, rest []byte, err error) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return nil, nil, errMalformed
	}
	b = b[n:]
	return b[:l:l], b[l:], nil
}

func readUvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, errMalformed
	}
	return v, b[n:], nil
}

// wireOffset starts a room message that carries its recovery offset (the
// history stream's sequence, store.go):
//
//	version:2 | uvarint reqID | uvarint offset | uvarint len | origin | uvarint len | event | data...
const wireOffset = 2

// appendRoomMsg encodes a room message; offset 0 means none (version 1).
func appendRoomMsg(b []byte, reqID, offset uint64, origin, event string, data []byte) []byte {
	if offset == 0 {
		b = append(b, wireVersion)
		b = binary.AppendUvarint(b, reqID)
	} else {
		b = append(b, wireOffset)
		b = binary.AppendUvarint(b, reqID)
		b = binary.AppendUvarint(b, offset)
	}
	b = appendString(b, origin)
	b = appendString(b, event)
	return append(b, data...)
}

// roomMsg is a decoded room message; its byte fields alias the payload.
type roomMsg struct {
	reqID  uint64
	offset uint64
	origin []byte
	event  []byte
	data   []byte
}

func decodeRoomMsg(b []byte) (m roomMsg, err error) {
	if len(b) == 0 || (b[0] != wireVersion && b[0] != wireOffset) {
		return m, errMalformed
	}
	v := b[0]
	if m.reqID, b, err = readUvarint(b[1:]); err != nil {
		return m, err
	}
	if v == wireOffset {
		if m.offset, b, err = readUvarint(b); err != nil {
			return m, err
		}
	}
	if m.origin, b, err = readBytes(b); err != nil {
		return m, err
	}
	if m.event, b, err = readBytes(b); err != nil {
		return m, err
	}
	m.data = b
	return m, nil
}

// appendReply encodes a count reply.
func appendReply(b []byte, reqID uint64, count int, node string) []byte {
	if count < 0 {
		count = 0
	}
	b = append(b, wireVersion)
	b = binary.AppendUvarint(b, reqID)
	b = binary.AppendUvarint(b, uint64(count))
	return append(b, node...)
}

func decodeReply(b []byte) (reqID uint64, count int, node []byte, err error) {
	if len(b) == 0 || b[0] != wireVersion {
		return 0, 0, nil, errMalformed
	}
	if reqID, b, err = readUvarint(b[1:]); err != nil {
		return 0, 0, nil, err
	}
	c, b, err := readUvarint(b)
	if err != nil || c > 1<<31 {
		return 0, 0, nil, errMalformed
	}
	return reqID, int(c), b, nil
}

// appendCtlHeader encodes the header shared by all control messages.
func appendCtlHeader(b []byte, kind byte, instance uint64, node string) []byte {
	b = append(b, wireVersion, kind)
	b = binary.BigEndian.AppendUint64(b, instance)
	return appendString(b, node)
}

// ctlMsg is a decoded control message header; node and body alias the payload.
type ctlMsg struct {
	kind     byte
	instance uint64
	node     []byte
	body     []byte
}

func decodeCtl(b []byte) (m ctlMsg, err error) {
	if len(b) < 10 || b[0] != wireVersion {
		return m, errMalformed
	}
	m.kind = b[1]
	m.instance = binary.BigEndian.Uint64(b[2:10])
	if m.node, m.body, err = readBytes(b[10:]); err != nil {
		return m, err
	}
	if len(m.node) == 0 {
		return m, errMalformed
	}
	return m, nil
}

// heartbeatPart is a decoded heartbeat body; rooms is still encoded.
type heartbeatPart struct {
	gen, part, parts uint64
	rooms            []byte
}

func decodeHeartbeat(b []byte) (h heartbeatPart, err error) {
	if h.gen, b, err = readUvarint(b); err != nil {
		return h, err
	}
	if h.part, b, err = readUvarint(b); err != nil {
		return h, err
	}
	if h.parts, b, err = readUvarint(b); err != nil {
		return h, err
	}
	if h.parts == 0 || h.part >= h.parts {
		return h, errMalformed
	}
	h.rooms = b
	return h, nil
}

// eachRoom calls f for each length-prefixed room of a heartbeat body.
func eachRoom(b []byte, f func(room []byte)) error {
	for len(b) > 0 {
		room, rest, err := readBytes(b)
		if err != nil {
			return err
		}
		f(room)
		b = rest
	}
	return nil
}

// History message (stream subject <prefix>.hist.<token(room)>, store.go):
//
//	version:1 | uvarint len | exceptSID | uvarint len | event | data...
func appendHistMsg(b []byte, exceptSID, event string, data []byte) []byte {
	b = append(b, wireVersion)
	b = appendString(b, exceptSID)
	b = appendString(b, event)
	return append(b, data...)
}

func decodeHistMsg(b []byte) (exceptSID, event string, data []byte, err error) {
	if len(b) == 0 || b[0] != wireVersion {
		return "", "", nil, errMalformed
	}
	sid, b, err := readBytes(b[1:])
	if err != nil {
		return "", "", nil, err
	}
	ev, b, err := readBytes(b)
	if err != nil {
		return "", "", nil, err
	}
	return string(sid), string(ev), b, nil
}
