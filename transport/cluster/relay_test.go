package cluster

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRelayReachesTheTaggedNode(t *testing.T) {
	nodes := startMesh(t, 2)
	a, b := nodes[0], nodes[1]
	if err := b.ServeRelay(func(_ context.Context, req []byte) []byte { return append([]byte("b:"), req...) }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var answer []byte
	var err error
	// The relay subscription propagates over the route like any interest.
	for answer == nil {
		answer, err = a.Relay(ctx, b.RelayTag(), []byte("ping"))
		if err != nil && !errors.Is(err, ErrNoRelay) {
			t.Fatalf("Relay: %v", err)
		}
		if ctx.Err() != nil {
			t.Fatal("no answer from b")
		}
	}
	if string(answer) != "b:ping" {
		t.Fatalf("answer %q", answer)
	}
	for _, tag := range []string{"", "a.b", "x*", a.RelayTag() + ">"} {
		if _, err := a.Relay(ctx, tag, nil); !errors.Is(err, ErrNoRelay) {
			t.Errorf("Relay to %q: %v, want ErrNoRelay", tag, err)
		}
	}
}
