package socketio

import (
	"encoding/json"
	"testing"
)

var benchData = json.RawMessage(`{"room":"lobby","user":"u_123456","text":"hello, world: a typical chat line","ts":1700000000123}`)

func BenchmarkAppendEvent(b *testing.B) {
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendEvent(dst[:0], "chat:message", benchData)
	}
	b.SetBytes(int64(len(dst)))
}

func BenchmarkAppendEventWithOffset(b *testing.B) {
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	var off uint64 = 1 << 30
	for b.Loop() {
		off++
		dst = AppendEventWithOffset(dst[:0], "chat:message", benchData, off)
	}
	b.SetBytes(int64(len(dst)))
}

func BenchmarkAppendAck(b *testing.B) {
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendAck(dst[:0], 123456, benchData)
	}
	b.SetBytes(int64(len(dst)))
}

func BenchmarkDecodeEvent(b *testing.B) {
	frame := AppendEvent(nil, "chat:message", benchData)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEventAck(b *testing.B) {
	frame := []byte(`42/admin,17["chat:message",` + string(benchData) + `,2,"x"]`)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePing(b *testing.B) {
	frame := []byte("3")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}
