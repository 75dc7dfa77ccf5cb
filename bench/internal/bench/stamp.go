package bench

import (
	"bytes"
	"strconv"
)

// A message's data is {"t":SENT,"s":SEQ,"p":"xxx…"}: SENT is Clock.Now at
// send time, SEQ the message's sequence number, and p pads the data to the
// payload size. Servers pass data through verbatim (Socket.IO re-encodes it
// with the same key order), so a subscriber finds the stamp by its prefix
// without decoding the JSON.
const (
	stampPrefix = `{"t":`
	stampSeq    = `,"s":`
)

// benchEvent is the event name every bench message is published under.
const benchEvent = "bench"

// appendPayload appends the data of message seq sent at sent, padded to
// size bytes when size allows.
func appendPayload(dst []byte, seq int, sent int64, size int) []byte {
	start := len(dst)
	dst = append(dst, stampPrefix...)
	dst = strconv.AppendInt(dst, sent, 10)
	dst = append(dst, stampSeq...)
	dst = strconv.AppendInt(dst, int64(seq), 10)
	dst = append(dst, `,"p":"`...)
	for pad := size - (len(dst) - start) - len(`"}`); pad > 0; pad-- {
		dst = append(dst, 'x')
	}
	return append(dst, `"}`...)
}

// parseStamp finds the stamp in an EVENT frame 42["bench",{"t":…,"s":…,…}].
func parseStamp(frame []byte) (seq int, sent int64, ok bool) {
	i := bytes.Index(frame, []byte(stampPrefix))
	if i < 0 {
		return 0, 0, false
	}
	rest := frame[i+len(stampPrefix):]
	sent, rest, ok = leadingInt(rest)
	if !ok || !bytes.HasPrefix(rest, []byte(stampSeq)) {
		return 0, 0, false
	}
	s, _, ok := leadingInt(rest[len(stampSeq):])
	if !ok || s > int64(maxMessages)*2 {
		return 0, 0, false
	}
	return int(s), sent, true
}

// leadingInt parses the non-negative decimal at the start of b.
func leadingInt(b []byte) (int64, []byte, bool) {
	var n int64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i == 18 { // past int64 range: not a stamp of ours
			return 0, nil, false
		}
		n = n*10 + int64(b[i]-'0')
	}
	return n, b[i:], i > 0
}
