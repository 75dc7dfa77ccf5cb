package transport

// The write pump frames server messages itself so that all of a connection's
// queued frames go to the kernel in one vectored write (net.Buffers); gorilla
// writes one frame per call. Server frames are never masked (RFC 6455 §5.1).

const (
	finText       = 0x81 // FIN + text opcode
	maxHeaderSize = 10
)

// appendTextHeader appends the header of an unmasked, final text frame
// carrying n payload bytes.
func appendTextHeader(dst []byte, n int) []byte {
	switch {
	case n < 126:
		return append(dst, finText, byte(n))
	case n <= 0xFFFF:
		return append(dst, finText, 126, byte(n>>8), byte(n))
	default:
		return append(dst, finText, 127,
			byte(uint64(n)>>56), byte(uint64(n)>>48), byte(uint64(n)>>40), byte(uint64(n)>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}
