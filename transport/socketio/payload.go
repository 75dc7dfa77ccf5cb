package socketio

import "errors"

// RecordSeparator joins the Engine.IO packets of one HTTP long-polling
// payload (engine.io-protocol v4, "Payload").
const RecordSeparator = '\x1e'

// ErrPayload is returned for a polling payload that is empty or holds an
// empty packet.
var ErrPayload = errors.New("socketio: malformed polling payload")

// SplitPayload splits a long-polling request body into its Engine.IO
// packets. The packets alias body. A packet that starts with 'b' is a
// base64 binary packet (IsBinaryPacket), which the gateway refuses.
func SplitPayload(body []byte) ([][]byte, error) {
	if len(body) == 0 {
		return nil, ErrPayload
	}
	packets := make([][]byte, 0, 1)
	start := 0
	for i := 0; i <= len(body); i++ {
		if i < len(body) && body[i] != RecordSeparator {
			continue
		}
		if i == start {
			return nil, ErrPayload
		}
		packets = append(packets, body[start:i:i])
		start = i + 1
	}
	return packets, nil
}

// IsBinaryPacket reports a polling packet that carries base64 binary data.
func IsBinaryPacket(packet []byte) bool { return len(packet) > 0 && packet[0] == 'b' }

// PayloadLen is the length of the payload AppendPayload makes of packets.
func PayloadLen(packets [][]byte) int {
	n := max(len(packets)-1, 0)
	for _, p := range packets {
		n += len(p)
	}
	return n
}

// AppendPayload appends packets joined by the record separator: the body
// of a long-polling GET answer.
func AppendPayload(dst []byte, packets [][]byte) []byte {
	for i, p := range packets {
		if i > 0 {
			dst = append(dst, RecordSeparator)
		}
		dst = append(dst, p...)
	}
	return dst
}

// Polling-only Engine.IO packets of the upgrade (engine.io-protocol v4,
// "Upgrade").
var (
	// ProbePing is the client's probe on the new WebSocket: 2probe.
	ProbePing = []byte("2probe")
	// ProbePong answers it: 3probe.
	ProbePong = []byte("3probe")
	// UpgradePacket completes the upgrade: 5.
	UpgradePacket = []byte{EIOUpgrade}
	// NoopPacket answers a pending long poll once the session has moved: 6.
	NoopPacket = []byte{EIONoop}
	// ClosePacket ends the session: 1.
	ClosePacket = []byte{EIOClose}
)
