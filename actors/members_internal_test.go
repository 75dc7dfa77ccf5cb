package actors

import (
	"fmt"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

// TestMemberSet checks the set against a plain map through growth past the
// linear-scan size, removals from the middle and the end, the index dropped
// again, and a big room emptied.
func TestMemberSet(t *testing.T) {
	pid := func(i int) *actor.PID { return actor.NewPID("local", fmt.Sprintf("conn:%d", i)) }
	type step struct {
		add    []int
		remove []int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"one tab", []step{{add: []int{1}}, {remove: []int{1}}}},
		{"duplicates ignored", []step{{add: []int{1, 1, 2, 2}}, {remove: []int{3, 1, 1}}}},
		{"grows past the scan size", []step{{add: seq(0, 3*smallRoom)}, {remove: seq(5, 20)}}},
		{"shrinks below, index dropped", []step{{add: seq(0, smallRoom+1)}, {remove: seq(0, smallRoom)}, {add: seq(100, 103)}}},
		{"big room emptied", []step{{add: seq(0, 40*smallRoom)}, {remove: seq(0, 40*smallRoom)}, {add: []int{7}}}},
		{"remove the last then the first", []step{{add: seq(0, 12)}, {remove: []int{11, 0, 5}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s memberSet
			want := map[string]bool{}
			for _, st := range tc.steps {
				for _, i := range st.add {
					id := pid(i).Id
					if got := s.add(member{pid: pid(i)}); got == want[id] {
						t.Fatalf("add %s reported %v with member already there: %v", id, got, want[id])
					}
					want[id] = true
				}
				for _, i := range st.remove {
					id := pid(i).Id
					if got := s.remove(id); got != want[id] {
						t.Fatalf("remove %s reported %v, want %v", id, got, want[id])
					}
					delete(want, id)
				}
				if s.len() != len(want) {
					t.Fatalf("len %d, want %d", s.len(), len(want))
				}
				seen := map[string]bool{}
				for _, m := range s.list {
					if !want[m.pid.Id] || seen[m.pid.Id] {
						t.Fatalf("list holds %s unexpectedly (or twice)", m.pid.Id)
					}
					seen[m.pid.Id] = true
				}
				for id := range want {
					if !s.has(id) {
						t.Fatalf("%s missing", id)
					}
				}
				if (s.index != nil) && len(s.index) != len(s.list) {
					t.Fatalf("index has %d entries for %d members", len(s.index), len(s.list))
				}
				for id, i := range s.index {
					if s.list[i].pid.Id != id {
						t.Fatalf("index says %s at %d, list has %s", id, i, s.list[i].pid.Id)
					}
				}
			}
		})
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}
