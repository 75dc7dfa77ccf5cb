package bench

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseKillFlags(t *testing.T) {
	c, err := ParseKillFlags([]string{"-repo", "../../.."}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Nodes != 3 || c.Clients != 1000 || c.Rate != 50 || c.Duration != 2*time.Minute || c.KillEvery != 20*time.Second ||
		c.RecoveryWindow != 2*time.Minute || c.messages() != 6000 || c.Binary != "" {
		t.Errorf("got %+v", c)
	}
	q, err := ParseKillFlags([]string{"-repo", "../../..", "-quick", "-kill-every", "5s", "-reconnect-delay", "1s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if q.Clients != quickKillClients || q.Duration != quickKillDuration || q.KillEvery != 5*time.Second || q.ReconnectDelay != time.Second {
		t.Errorf("-quick: got %+v", q)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-repo", "../../..", "-nodes", "1"}, "-nodes must be between 2"},
		{[]string{"-repo", "../../..", "-clients", "2"}, "-clients must be between -nodes"},
		{[]string{"-repo", "../../..", "-rate", "0"}, "-rate must be above 0"},
		{[]string{"-repo", "../../..", "-kill-every", "3m"}, "-kill-every must be at least 1s and at most -duration"},
		{[]string{"-repo", "../../..", "-recovery-window", "-1s"}, "-recovery-window must not be negative"},
		{[]string{"-repo", "../../..", "-reconnect-delay", "-1s"}, "-reconnect-delay must be between 0 and 1m"},
		{[]string{"-gateway", "/nonexistent"}, `-gateway "/nonexistent": not a file`},
		{[]string{"-repo", "/nonexistent"}, "no go.mod"},
	} {
		if _, err := ParseKillFlags(tc.args, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestKillClusterNextSkipsDeadNodesAndTheCurrentOne(t *testing.T) {
	cl := &killCluster{}
	for i := range 3 {
		cl.nodes = append(cl.nodes, &killNode{id: nodeID(i), peer: &Peer{Addr: "127.0.0.1:" + string(rune('1'+i))}, live: true})
	}
	cl.nodes[1].live = false
	var got []int
	for range 4 {
		i, _, ok := cl.next(1)
		if !ok {
			t.Fatal("no live node")
		}
		got = append(got, i)
	}
	if got[0] == 1 || got[1] == 1 || got[0] == got[1] || got[2] != got[0] {
		t.Errorf("round-robin over the live nodes a, c: got %v", got)
	}
	if i, _, _ := cl.next(0); i != 2 {
		t.Errorf("from a: got %d, want c (2)", i)
	}
	cl.nodes[0].live, cl.nodes[2].live = false, false
	if _, _, ok := cl.next(0); ok {
		t.Error("every node dead: want none")
	}
	cl.nodes[2].live = true
	if i, _, ok := cl.next(2); !ok || i != 2 {
		t.Errorf("only the current node live: got %d %v, want it", i, ok)
	}
}
