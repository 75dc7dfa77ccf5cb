package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hyvve/gateway/transport/cluster/clustertest"
)

// withRecovery turns the JetStream recovery store on.
func withRecovery(c Config, max int) Config {
	c.RecoveryWindow, c.RecoveryMaxMessages = time.Minute, max
	return c
}

// waitStore waits, bounded, until n's recovery store is set up.
func waitStore(t testing.TB, n *Node) *Store {
	t.Helper()
	select {
	case <-n.StoreReady():
	case <-time.After(30 * time.Second):
		t.Fatalf("recovery store of %s not ready", n.ID())
	}
	return n.Store()
}

func appendN(t *testing.T, s *Store, room string, from, to int) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := from; i <= to; i++ {
		seq, err := s.Append(context.Background(), room, "n", []byte(fmt.Sprint(i)), "")
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if len(seqs) > 0 && seq <= seqs[len(seqs)-1] {
			t.Fatalf("sequence went back: %d after %d", seq, seqs[len(seqs)-1])
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// since reads rooms' kept broadcasts after their offsets the way a
// recovery does (the stream's last sequence, each room, the reach-back
// rule), in offset order; ok is false when one does not reach back or an
// offset is past the stream's last sequence.
func since(ctx context.Context, s *Store, rooms map[string]uint64) (kept []Kept, ok bool, err error) {
	last, err := s.LastSeq(ctx)
	if err != nil {
		return nil, false, err
	}
	for room, after := range rooms {
		got, err := s.ReadRoom(ctx, room, after)
		if err != nil {
			return nil, false, err
		}
		if after > last || !s.ReachesBack(got, after) {
			return nil, false, nil
		}
		kept = append(kept, got...)
	}
	slices.SortFunc(kept, func(a, b Kept) int { return cmp.Compare(a.Seq, b.Seq) })
	return kept, true, nil
}

// checkHistory exercises offsets, order, per-room thresholds, the
// reach-back rule and the sender exclusion data on store s (read on r).
func checkHistory(t *testing.T, s, r *Store) {
	t.Helper()
	ctx := context.Background()
	a := appendN(t, s, "workspace:w:a", 1, 3)
	b := appendN(t, s, "workspace:w:b", 4, 5)
	if _, err := s.Append(ctx, "workspace:w:a", "sync", []byte(`{}`), "sid-x"); err != nil {
		t.Fatal(err)
	}
	kept, ok, err := since(ctx, r, map[string]uint64{"workspace:w:a": a[0], "workspace:w:b": 0})
	if err != nil || !ok {
		t.Fatalf("Since: %v %v", ok, err)
	}
	var got []string
	for i, k := range kept {
		if i > 0 && k.Seq <= kept[i-1].Seq {
			t.Fatalf("not in offset order: %+v", kept)
		}
		got = append(got, k.Room+"="+string(k.Data))
	}
	want := []string{"workspace:w:a=2", "workspace:w:a=3", "workspace:w:b=4", "workspace:w:b=5", "workspace:w:a={}"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Since = %v, want %v", got, want)
	}
	if last := kept[len(kept)-1]; last.ExceptSID != "sid-x" || last.Event != "sync" {
		t.Fatalf("last kept %+v", last)
	}
	if kept[2].Seq != b[0] {
		t.Fatalf("offset of b's first = %d, want %d", kept[2].Seq, b[0])
	}
	// An offset the stream never issued: not recoverable.
	if _, ok, err := since(ctx, r, map[string]uint64{"workspace:w:a": 1 << 40}); ok || err != nil {
		t.Fatalf("future offset: ok=%v err=%v", ok, err)
	}
	// Nothing after the offset: recoverable, nothing to replay.
	last, _ := r.LastSeq(ctx)
	if kept, ok, err := since(ctx, r, map[string]uint64{"workspace:w:a": last, "workspace:w:quiet": last}); !ok || err != nil || len(kept) != 0 {
		t.Fatalf("up to date: %v %v %v", kept, ok, err)
	}
}

func TestStoreHistorySingleNode(t *testing.T) {
	n := startNode(t, withRecovery(fast(Config{NodeID: "s", Listen: "127.0.0.1:0"}), 4))
	s := waitStore(t, n)
	if s.replicas != 1 {
		t.Fatalf("replicas %d", s.replicas)
	}
	checkHistory(t, s, s)

	// The per-room limit: a client that missed the limit or more is not
	// recovered; one that missed fewer is.
	seqs := appendN(t, s, "workspace:w:full", 1, 6) // 6 > limit 4: 1 and 2 dropped
	ctx := context.Background()
	if _, ok, err := since(ctx, s, map[string]uint64{"workspace:w:full": seqs[0]}); ok || err != nil {
		t.Fatalf("dropped history: ok=%v err=%v", ok, err)
	}
	if _, ok, _ := since(ctx, s, map[string]uint64{"workspace:w:full": seqs[1]}); ok {
		t.Fatal("missed exactly the limit: refused (conservative rule)")
	}
	if kept, ok, err := since(ctx, s, map[string]uint64{"workspace:w:full": seqs[2]}); !ok || err != nil || len(kept) != 3 {
		t.Fatalf("missed 3 of limit 4: %v %v %v", kept, ok, err)
	}
}

func TestStoreSessions(t *testing.T) {
	n := startNode(t, withRecovery(fast(Config{NodeID: "s", Listen: "127.0.0.1:0"}), 10))
	s := waitStore(t, n)
	ctx := context.Background()
	const pid = "secret-pid-0123456789"
	if _, _, err := s.GetSession(ctx, pid); !errors.Is(err, ErrNoSession) {
		t.Fatalf("unknown pid: %v", err)
	}
	r1, err := s.PutSession(ctx, pid, []byte("v1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	rec, rev, err := s.GetSession(ctx, pid)
	if err != nil || string(rec) != "v1" || rev != r1 {
		t.Fatalf("get: %q %d %v", rec, rev, err)
	}
	// The key is a hash, never the pid.
	keys, err := s.kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys.Keys() {
		if k != sessionKey(pid) || k == pid {
			t.Fatalf("key %q", k)
		}
	}
	// A writer writes on its own last revision: one that another node wrote
	// over since (a recovery adopted the session there) is not brought back.
	r2, err := s.AdoptSession(ctx, pid, []byte("adopted"))
	if err != nil || r2 <= r1 {
		t.Fatalf("adopt: %d %v", r2, err)
	}
	if _, err := s.PutSession(ctx, pid, []byte("stale"), r1); !errors.Is(err, ErrTaken) {
		t.Fatalf("stale writer: %v", err)
	}
	if rec, _, _ := s.GetSession(ctx, pid); string(rec) != "adopted" {
		t.Fatalf("after a stale write: %q", rec)
	}
	// The adopter writes on from its revision; a deleted record is adopted too.
	if _, err := s.PutSession(ctx, pid, []byte("v3"), r2); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, pid); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetSession(ctx, pid); !errors.Is(err, ErrNoSession) {
		t.Fatalf("deleted pid: %v", err)
	}
	if _, err := s.AdoptSession(ctx, pid, []byte("again")); err != nil {
		t.Fatalf("adopt a deleted record: %v", err)
	}
	if _, err := s.PutSession(ctx, "other", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutSession(ctx, "other", []byte("x"), 0); !errors.Is(err, ErrTaken) {
		t.Fatalf("second first write: %v", err)
	}
}

// TestStoreMesh: three routed embedded servers form one JetStream cluster;
// the stream and the bucket are replicated (R3), written on one node, read
// on another, and survive the loss of the node they were written on.
func TestStoreMesh(t *testing.T) {
	nodes := startJSMesh(t, 3)
	a, b, c := waitStore(t, nodes[0]), waitStore(t, nodes[1]), waitStore(t, nodes[2])
	for _, s := range []*Store{a, b, c} {
		if s.replicas != 3 {
			t.Fatalf("replicas %d, want 3", s.replicas)
		}
	}
	checkHistory(t, a, b)
	ctx := context.Background()
	if _, err := a.PutSession(ctx, "pid-mesh", []byte("rec"), 0); err != nil {
		t.Fatal(err)
	}
	seqs := appendN(t, a, "workspace:w:k", 1, 3)

	nodes[0].skipBye = true
	nodes[0].Close() // like kill -9 for the others: its replicas are gone
	var kept []Kept
	waitFor(t, "history on the survivors", func() bool {
		var ok bool
		var err error
		kept, ok, err = since(ctx, c, map[string]uint64{"workspace:w:k": seqs[0]})
		return err == nil && ok
	})
	if len(kept) != 2 || kept[0].Seq != seqs[1] || kept[1].Seq != seqs[2] {
		t.Fatalf("after losing a: %+v", kept)
	}
	if rec, _, err := b.GetSession(ctx, "pid-mesh"); err != nil || string(rec) != "rec" {
		t.Fatalf("session on the survivors: %q %v", rec, err)
	}
	waitFor(t, "a session adopted on a survivor", func() bool {
		_, err := c.AdoptSession(ctx, "pid-mesh", []byte("on c"))
		return err == nil
	})
	// New broadcasts go on numbering after the old ones.
	if more := appendN(t, b, "workspace:w:k", 4, 4); more[0] <= seqs[2] {
		t.Fatalf("offset %d after %d", more[0], seqs[2])
	}
}

// TestStoreTempDirRemoved: without NATS_STORE_DIR the server's state lives in
// a temporary directory that Close removes; with it, in that directory.
func TestStoreTempDirRemoved(t *testing.T) {
	n := startNode(t, withRecovery(fast(Config{NodeID: "t", Listen: "127.0.0.1:0"}), 10))
	waitStore(t, n)
	dir := n.tmpDir
	if dir == "" {
		t.Fatal("no temporary store dir")
	}
	n.Close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("temporary store dir left: %v", err)
	}
	fileDir := t.TempDir()
	f := startNode(t, withRecovery(fast(Config{NodeID: "f", Listen: "127.0.0.1:0", StoreDir: fileDir}), 10))
	s := waitStore(t, f)
	if f.tmpDir != "" {
		t.Fatal("temporary dir with NATS_STORE_DIR")
	}
	appendN(t, s, "workspace:w:f", 1, 1)
	f.Close()
	if entries, _ := os.ReadDir(fileDir); len(entries) == 0 {
		t.Fatal("nothing stored in NATS_STORE_DIR")
	}
}

// TestStoreOffWithoutRecovery: recovery off starts no JetStream.
func TestStoreOffWithoutRecovery(t *testing.T) {
	n := startNode(t, fast(Config{NodeID: "o", Listen: "127.0.0.1:0"}))
	if n.Store() != nil || n.srv.JetStreamEnabled() || n.tmpDir != "" {
		t.Fatal("JetStream on with recovery off")
	}
}

// freeRoutes returns count route URLs on free loopback ports.
func freeRoutes(t testing.TB, count int) []string { return clustertest.Routes(t, count) }

// startJSMesh starts count embedded nodes with recovery on, each listing
// every route (its own included, as a clustered JetStream needs routes at
// start), and waits for the mesh.
func startJSMesh(t testing.TB, count int) []*Node {
	t.Helper()
	routes := freeRoutes(t, count)
	var nodes []*Node
	for i := range count {
		c := withRecovery(embedded(string(rune('a'+i)), routes...), 100)
		c.ClusterListen = strings.TrimPrefix(routes[i], "nats-route://")
		nodes = append(nodes, startNode(t, c))
	}
	waitMesh(t, nodes...)
	return nodes
}
