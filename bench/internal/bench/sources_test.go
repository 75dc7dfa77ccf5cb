package bench

import (
	"context"
	"net"
	"testing"
)

func TestSourceDialersSpreadOverLoopbackAddresses(t *testing.T) {
	if got := sourceCount(connsPerSource + 1); got != 2 {
		t.Fatalf("sourceCount = %d, want 2", got)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dials := sourceDialers(connsPerSource+1, true)
	if len(dials) != 2 {
		t.Fatalf("%d dialers, want 2", len(dials))
	}
	for i, dial := range dials {
		c, err := dial(context.Background(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		want := net.IPv4(127, 0, 0, byte(1+i))
		if got := s.RemoteAddr().(*net.TCPAddr).IP; !got.Equal(want) {
			t.Errorf("dialer %d connected from %s, want %s", i, got, want)
		}
		c.Close()
		s.Close()
	}
}
