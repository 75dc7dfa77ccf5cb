package socketio

// BinaryHeader reads the attachment count and ack id of a binary packet
// (45<n>-[/ns,][id][…] or 46…), which Decode refuses with ErrBinary, so the
// caller can answer its ack and skip its attachment frames. A header it
// cannot read counts as none: 0 attachments, NoAck.
func BinaryHeader(frame []byte) (attachments int, ackID int64) {
	ackID = NoAck
	i := 2
	n := 0
	for ; i < len(frame) && frame[i] >= '0' && frame[i] <= '9' && n < 1000; i++ {
		n = n*10 + int(frame[i]-'0')
	}
	if i >= len(frame) || frame[i] != '-' {
		return 0, ackID
	}
	i++
	if i < len(frame) && frame[i] == '/' {
		for i < len(frame) && frame[i] != ',' {
			i++
		}
		i++
	}
	var id int64
	start := i
	for ; i < len(frame) && frame[i] >= '0' && frame[i] <= '9' && i-start < 16; i++ {
		id = id*10 + int64(frame[i]-'0')
	}
	if i > start && id <= MaxAckID {
		ackID = id
	}
	return n, ackID
}
