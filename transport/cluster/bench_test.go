package cluster

import (
	"context"
	"encoding/json"
	"testing"
)

// BenchmarkPublishRoundTrip publishes to a room hosted by one remote node
// (another embedded server, routed over loopback) and waits for its count.
func BenchmarkPublishRoundTrip(b *testing.B) {
	nodes := startMesh(b, 2)
	a, remote := nodes[0], nodes[1]
	un, err := remote.Subscribe("bench:room", func(d *Delivery) { d.Reply(1) })
	if err != nil {
		b.Fatal(err)
	}
	defer un()
	waitHosts(b, a, "bench:room", remote.ID())
	data := json.RawMessage(`{"text":"hello, world","from":"user-1"}`)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n, partial, err := a.Publish(ctx, "bench:room", "message", data)
		if err != nil || partial || n != 1 {
			b.Fatalf("Publish = %d, %v, %v", n, partial, err)
		}
	}
}

// BenchmarkBroadcast measures the fire-and-forget send.
func BenchmarkBroadcast(b *testing.B) {
	nodes := startMesh(b, 2)
	a, remote := nodes[0], nodes[1]
	un, err := remote.Subscribe("bench:room", func(*Delivery) {})
	if err != nil {
		b.Fatal(err)
	}
	defer un()
	waitHosts(b, a, "bench:room", remote.ID())
	data := json.RawMessage(`{"text":"hello, world","from":"user-1"}`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := a.Broadcast("bench:room", "message", data); err != nil {
			b.Fatal(err)
		}
	}
}
