package bench

import "testing"

func TestSeenBelow(t *testing.T) {
	m := &member{seen: make([]uint64, 3)}
	for _, seq := range []int{0, 5, 63, 64, 100, 128, 150} {
		m.seen[seq/64] |= 1 << (seq % 64)
	}
	for _, tc := range []struct {
		n    int
		want int64
	}{{0, 0}, {1, 1}, {64, 3}, {65, 4}, {128, 5}, {129, 6}, {192, 7}} {
		if got := m.seenBelow(tc.n); got != tc.want {
			t.Errorf("seenBelow(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
	if !m.hasSeen(100) || m.hasSeen(101) || m.hasSeen(10000) {
		t.Error("hasSeen disagrees with the bitset")
	}
}
