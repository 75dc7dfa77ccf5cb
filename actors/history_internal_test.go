package actors

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// recorder is an Outbox that keeps what it is given.
type recorder struct{ frames []string }

func (r *recorder) Enqueue(f []byte) bool { r.frames = append(r.frames, string(f)); return true }

func TestHistoryRing(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	type step struct {
		room string
		at   time.Duration // since t0
	}
	tests := []struct {
		name     string
		max      int
		window   time.Duration
		steps    []step
		now      time.Duration // when the checks run
		rooms    map[string]uint64
		from     uint64
		reaches  bool
		replayed []uint64
	}{
		{"nothing missed", 10, time.Minute, []step{{"a", 0}, {"a", 1}}, 2, map[string]uint64{"a": 0}, 2, true, nil},
		{"all kept", 10, time.Minute, []step{{"a", 0}, {"a", 1}, {"a", 2}}, 3, map[string]uint64{"a": 0}, 1, true, []uint64{2, 3}},
		{"from the start of the session", 10, time.Minute, []step{{"a", 0}, {"a", 1}}, 2, map[string]uint64{"a": 0}, 0, true, []uint64{1, 2}},
		{"bounded by count", 3, time.Minute, []step{{"a", 0}, {"a", 0}, {"a", 0}, {"a", 0}, {"a", 0}}, 0, map[string]uint64{"a": 0}, 1, false, nil},
		{"count drops exactly what was received", 3, time.Minute, []step{{"a", 0}, {"a", 0}, {"a", 0}, {"a", 0}, {"a", 0}}, 0, map[string]uint64{"a": 0}, 2, true, []uint64{3, 4, 5}},
		{"bounded by the window", 10, time.Minute, []step{{"a", 0}, {"a", 30 * time.Second}, {"a", 90 * time.Second}}, 90 * time.Second, map[string]uint64{"a": 0}, 0, false, nil},
		{"window keeps the recent", 10, time.Minute, []step{{"a", 0}, {"a", 30 * time.Second}, {"a", 90 * time.Second}}, 90 * time.Second, map[string]uint64{"a": 0}, 1, true, []uint64{2, 3}},
		{"window drops at check time", 10, time.Minute, []step{{"a", 0}, {"a", 0}}, 2 * time.Minute, map[string]uint64{"a": 0}, 1, false, nil},
		{"one offset orders every room", 10, time.Minute, []step{{"a", 0}, {"b", 0}, {"a", 0}, {"b", 0}, {"c", 0}}, 0, map[string]uint64{"a": 0, "b": 0}, 1, true, []uint64{2, 3, 4}},
		{"a room joined later replays from its join", 10, time.Minute, []step{{"a", 0}, {"b", 0}, {"b", 0}, {"a", 0}}, 0, map[string]uint64{"a": 0, "b": 2}, 1, true, []uint64{3, 4}},
		{"another room's drops do not matter", 2, time.Minute, []step{{"b", 0}, {"b", 0}, {"b", 0}, {"a", 0}}, 0, map[string]uint64{"a": 0}, 0, true, []uint64{4}},
		{"a drop in any room of the session", 2, time.Minute, []step{{"b", 0}, {"b", 0}, {"b", 0}, {"a", 0}}, 0, map[string]uint64{"a": 0, "b": 0}, 0, false, nil},
		{"drop after the join", 2, time.Minute, []step{{"b", 0}, {"b", 0}, {"b", 0}}, 0, map[string]uint64{"b": 0}, 0, false, nil},
		{"drop before the join", 2, time.Minute, []step{{"b", 0}, {"b", 0}, {"b", 0}}, 0, map[string]uint64{"b": 1}, 0, true, []uint64{2, 3}},
		{"an unknown room has nothing", 10, time.Minute, []step{{"a", 0}}, 0, map[string]uint64{"z": 0}, 0, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHistory(tt.max, tt.window)
			var now time.Duration
			h.now = func() time.Time { return t0.Add(now) }
			for i, s := range tt.steps {
				now = s.at
				h.broadcast(s.room, "e", json.RawMessage(fmt.Sprint(i+1)), "", nil, nil, 0)
			}
			now = tt.now
			if got := h.reachesBack(tt.rooms, tt.from); got != tt.reaches {
				t.Fatalf("reachesBack %v, want %v", got, tt.reaches)
			}
			if !tt.reaches {
				return
			}
			h.mu.Lock()
			frames := h.missedLocked(tt.rooms, tt.from, "")
			h.mu.Unlock()
			var offs []uint64
			for _, f := range frames {
				var args []json.RawMessage
				if err := json.Unmarshal([]byte(strings.TrimPrefix(string(f), "42")), &args); err != nil || len(args) != 3 {
					t.Fatalf("frame %s", f)
				}
				var off uint64
				_, _ = fmt.Sscanf(strings.Trim(string(args[2]), `"`), "%d", &off)
				if string(args[1]) != fmt.Sprint(off) {
					t.Fatalf("frame %s: data is not its own offset", f)
				}
				offs = append(offs, off)
			}
			if fmt.Sprint(offs) != fmt.Sprint(tt.replayed) {
				t.Fatalf("replayed %v, want %v", offs, tt.replayed)
			}
		})
	}
}

func TestHistoryRingsOutliveRoomsWhileHeld(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	var now time.Duration
	h := newHistory(2, time.Minute)
	h.now = func() time.Time { return t0.Add(now) }
	h.retain("a")      // the room actor
	h.retain("a", "b") // a kept session
	for i := 0; i < 3; i++ {
		h.broadcast("a", "e", nil, "", nil, nil, 0)
	}
	h.release("a") // the room stops: the session still holds its ring
	now = 2 * time.Minute
	h.sweep()
	if rings, entries := h.size(); rings != 2 || entries != 0 {
		t.Fatalf("after the window: %d rings, %d entries; want the held rings, empty", rings, entries)
	}
	if h.reachesBack(map[string]uint64{"a": 0}, 2) {
		t.Fatal("a ring emptied by the window still reaches back")
	}
	h.release("a", "b")
	h.sweep()
	if rings, _ := h.size(); rings != 0 {
		t.Fatalf("%d rings kept after every holder left", rings)
	}
}

func TestHistoryBroadcastSkipsMutedAndExcept(t *testing.T) {
	h := newHistory(10, time.Minute)
	open, muted, sender := &recorder{}, &recorder{}, &recorder{}
	gate := &gatedOutbox{out: muted}
	senderPID := &actor.PID{Id: "sender"}
	members := []member{{pid: &actor.PID{Id: "open"}, out: open}, {pid: &actor.PID{Id: "muted"}, out: gate}, {pid: senderPID, out: sender}}
	h.broadcast("a", "e", json.RawMessage(`1`), "sender-sid", members, senderPID, 0)
	h.broadcast("a", "e", json.RawMessage(`2`), "", members, nil, 0)
	if len(open.frames) != 2 || len(muted.frames) != 0 || len(sender.frames) != 1 {
		t.Fatalf("open %v muted %v sender %v", open.frames, muted.frames, sender.frames)
	}
	h.mu.Lock()
	replay := h.missedLocked(map[string]uint64{"a": 0}, 0, "sender-sid")
	h.mu.Unlock()
	if len(replay) != 1 || string(replay[0]) != `42["e",2,"2"]` {
		t.Fatalf("the sender's replay %q: its own broadcast must not come back", replay)
	}
}

func TestDrainPlanSpreadsLargeDrainsAndClosesFewAtOnce(t *testing.T) {
	tests := []struct {
		n      int
		spread time.Duration
		batch  int
	}{
		{0, 5 * time.Second, drainMinBatch},
		{4, 5 * time.Second, drainMinBatch}, // a few clients: one batch
		{10_000, 5 * time.Second, 40},       // 250 ticks of 40
		{100_000, 5 * time.Second, 400},
		{1000, 0, 1000}, // no time to spread: all at once
		{1000, 10 * time.Millisecond, 1000},
	}
	for _, tt := range tests {
		batch, tick := drainPlan(tt.n, tt.spread)
		if batch != tt.batch || tick != drainTick {
			t.Errorf("drainPlan(%d, %v) = %d per %v, want %d per %v", tt.n, tt.spread, batch, tick, tt.batch, drainTick)
		}
		if ticks := (tt.n + batch - 1) / batch; tt.n > 0 && time.Duration(ticks-1)*tick > max(tt.spread, 0) {
			t.Errorf("drainPlan(%d, %v): %d ticks overrun the spread", tt.n, tt.spread, ticks)
		}
	}
}
