package actors_test

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/actors"
)

// TestChurnLeavesTheHeapFlat: many users of many workspaces connect, join
// their workspace's room, leave it and close (half by TCP reset), over real
// sockets. Once every connection, room and workspace has ended, the live
// heap must be back near where it was: nothing is kept per connection, per
// user or per workspace that has gone. CHURN_CYCLES overrides the count
// (20000 for a measurement); CHURN_HEAP_PROFILE writes the in-use heap
// after the churn.
func TestChurnLeavesTheHeapFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of real connections")
	}
	cycles := 3000
	if s := os.Getenv("CHURN_CYCLES"); s != "" {
		cycles, _ = strconv.Atoi(s)
	}
	h := newHarness(t, func(o *options) {
		o.actors.MaxConnectionsPerIP = 1 << 20
		o.actors.RoomIdleTimeout = 20 * time.Millisecond
		// Sessions ended by a TCP reset are kept for recovery: a short
		// window lets them (and so their workspaces) go, as they would.
		o.actors.RecoveryWindow = 20 * time.Millisecond
		o.logLevel = slog.LevelInfo // the test's log buffer would grow per cycle
	})
	// Cycle i is user u{i%40} in workspace w{i/5}: every workspace is new
	// to the gateway and seen five times, as tenants come and go.
	const users, perWorkspace, workers = 40, 5, 8
	u := "ws" + strings.TrimPrefix(h.url, "http") + "/socket.io/?EIO=4&transport=websocket"
	cycle := func(i int) error {
		wsID := "w" + strconv.Itoa(i/perWorkspace)
		tok := token(t, "u"+strconv.Itoa(i%users), wsID)
		ws, _, err := websocket.DefaultDialer.Dial(u, nil)
		if err != nil {
			return err
		}
		if i%2 == 1 { // half end by TCP reset
			defer func() { _ = ws.NetConn().(*net.TCPConn).SetLinger(0); _ = ws.Close() }()
		} else {
			defer ws.Close()
		}
		room := `{"room":"workspace:` + wsID + `:dashboard"}`
		for _, m := range []string{`40{"token":"` + tok + `"}`, `421["join_room",` + room + `]`, `422["leave_room",` + room + `]`} {
			if err := ws.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
				return err
			}
		}
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				return fmt.Errorf("cycle %d: %w", i, err)
			}
			if strings.HasPrefix(string(msg), "432") {
				return nil
			}
		}
	}
	run := func(from, n int) {
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := from + w; i < from+n; i += workers {
					if err := cycle(i); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	settle := func() uint64 {
		deadline := time.Now().Add(30 * time.Second)
		for h.connections() != 0 || h.metric("ws_rooms_active") != 0 || h.metric("ws_workspaces_active") != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("not back to empty: %v connections, %v rooms, %v workspaces",
					h.connections(), h.metric("ws_rooms_active"), h.metric("ws_workspaces_active"))
			}
			time.Sleep(5 * time.Millisecond)
		}
		return liveHeap()
	}
	// protoactor's process registry keeps a small table in each of its
	// 32,768 maps once used: about 10 MB that churn reaches and never
	// passes (TestProcessRegistryPlateaus). Warmed to that plateau, what
	// is left to measure is the gateway's own.
	if os.Getenv("CHURN_COLD_REGISTRY") == "" {
		actors.WarmRegistry(h.sys, "warm/", 1<<19)
	}
	run(0, 1000) // pools and buffers warm
	before, goroutines := settle(), runtime.NumGoroutine()
	writeHeapProfile(t, os.Getenv("CHURN_HEAP_PROFILE"), ".before")
	start := time.Now()
	run(1000, cycles)
	elapsed := time.Since(start)
	after := settle()
	writeHeapProfile(t, os.Getenv("CHURN_HEAP_PROFILE"), "")
	growth := int64(after) - int64(before)
	t.Logf("%d cycles in %v (%.0f/s); live heap %d → %d bytes (%+d, %.0f B/cycle, end/start %.3f); goroutines %d → %d",
		cycles, elapsed.Round(time.Millisecond), float64(cycles)/elapsed.Seconds(), before, after, growth,
		float64(growth)/float64(cycles), float64(after)/float64(before), goroutines, runtime.NumGoroutine())
	if n := h.series("ws_connections_active"); n != 0 {
		t.Errorf("%d ws_connections_active series left for workspaces with no connection", n)
	}
	if growth > 2<<20 {
		t.Fatalf("live heap grew %d bytes over %d connect/join/leave/close cycles", growth, cycles)
	}
}

// series counts the series of one metric family.
func (h *harness) series(name string) int {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

// writeHeapProfile writes the heap profile to path+suffix, when path is set.
func writeHeapProfile(t *testing.T, path, suffix string) {
	if path == "" {
		return
	}
	f, err := os.Create(path + suffix)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		t.Fatal(err)
	}
}

// TestProcessRegistryPlateaus: protoactor's process registry (1024
// concurrent maps of 32 shards) keeps each shard's table once used, so
// churn raises the heap once, to a plateau, and not per actor. Half a
// million names through it cost about 10 MB; half a million more, nothing.
func TestProcessRegistryPlateaus(t *testing.T) {
	h := newHarness(t, func(o *options) { o.logLevel = slog.LevelInfo })
	before := liveHeap()
	actors.WarmRegistry(h.sys, "a/", 1<<19)
	plateau := liveHeap()
	actors.WarmRegistry(h.sys, "b/", 1<<19)
	after := liveHeap()
	t.Logf("registry: %d names %+d bytes, %d more names %+d bytes", 1<<19, int64(plateau)-int64(before), 1<<19, int64(after)-int64(plateau))
	if growth := int64(after) - int64(plateau); growth > 1<<20 {
		t.Fatalf("the registry grew %d bytes past its plateau", growth)
	}
}
