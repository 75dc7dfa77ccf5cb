package main

// Server-to-client WebSocket frames are never masked (RFC 6455 §5.1), so a
// text frame is a 2-, 4- or 10-byte header and the payload.
const (
	finText       = 0x81 // FIN + text opcode
	maxHeaderSize = 10
)

// appendTextHeader appends the header of an unmasked, final text frame of
// n payload bytes.
func appendTextHeader(dst []byte, n int) []byte {
	switch {
	case n < 126:
		return append(dst, finText, byte(n))
	case n <= 0xFFFF:
		return append(dst, finText, 126, byte(n>>8), byte(n))
	default:
		u := uint64(n)
		return append(dst, finText, 127, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32),
			byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	}
}
