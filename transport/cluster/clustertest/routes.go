// Package clustertest hands tests loopback addresses nobody listens on, for
// servers that must know each other's addresses before they start (a NATS
// full mesh lists every node's route, its own included).
package clustertest

import (
	"net"
	"testing"
)

// Routes returns count NATS route URLs (nats-route://127.0.0.1:port) on
// ports that were free a moment ago: each is listened on, all at once so no
// two are the same, then released.
func Routes(tb testing.TB, count int) []string {
	tb.Helper()
	var out []string
	var ls []net.Listener
	for range count {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, "nats-route://"+l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}
