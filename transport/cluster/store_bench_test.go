package cluster

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkHistoryAppend measures what the history costs a broadcast: one
// Append (a JetStream publish and its ack) before the fan-out, on one
// embedded node (R1) and on a three-node mesh (R3, memory storage),
// sequential (latency: p50/p99 reported) and 16 publishers at once
// (throughput).
//
//	go test -run '^$' -bench HistoryAppend -benchtime 3000x ./transport/cluster
func BenchmarkHistoryAppend(b *testing.B) {
	for _, size := range []int{1, 3} {
		name := map[int]string{1: "node1_R1", 3: "mesh3_R3"}[size]
		b.Run(name+"/sequential", func(b *testing.B) {
			st := benchStore(b, size)
			data := []byte(`{"id":7,"status":"pending","title":"approve the Q3 budget"}`)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if _, err := st.Append(context.Background(), "workspace:w:approvals", "approval.requested", data, ""); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
		b.Run(name+"/parallel16", func(b *testing.B) {
			st := benchStore(b, size)
			data := []byte(`{"id":7,"status":"pending","title":"approve the Q3 budget"}`)
			b.SetParallelism(8) // 2 cores × 8
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := st.Append(context.Background(), "workspace:w:approvals", "approval.requested", data, ""); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func benchStore(b *testing.B, size int) *Store {
	b.Helper()
	if size == 1 {
		return waitStore(b, startNode(b, withRecovery(fast(Config{NodeID: "s", Listen: "127.0.0.1:0"}), 1000)))
	}
	nodes := startJSMesh(b, size)
	for _, n := range nodes {
		waitStore(b, n)
	}
	return nodes[1].Store()
}
