package socketio

import "testing"

func TestBinaryHeader(t *testing.T) {
	tests := []struct {
		frame       string
		attachments int
		ackID       int64
	}{
		{`451-["a",{"_placeholder":true,"num":0}]`, 1, NoAck},
		{`452-7["a",{},{}]`, 2, 7},
		{`451-/admin,12["a",{}]`, 1, 12},
		{`461-3[{"_placeholder":true,"num":0}]`, 1, 3},
		{`45`, 0, NoAck},
		{`45x`, 0, NoAck},
		{`451`, 0, NoAck},
		{`451-99999999999999999999["a"]`, 1, NoAck}, // past MaxAckID
	}
	for _, tt := range tests {
		n, id := BinaryHeader([]byte(tt.frame))
		if n != tt.attachments || id != tt.ackID {
			t.Errorf("%q: (%d, %d), want (%d, %d)", tt.frame, n, id, tt.attachments, tt.ackID)
		}
	}
}

func FuzzBinaryHeader(f *testing.F) {
	for _, s := range []string{`451-["a",{}]`, `452-/ns,7[]`, `46`, `4512345678901234567890-1`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		n, id := BinaryHeader(frame)
		if n < 0 || id > MaxAckID || (id < 0 && id != NoAck) {
			t.Fatalf("%q: (%d, %d)", frame, n, id)
		}
	})
}
