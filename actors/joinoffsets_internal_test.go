package actors

import (
	"slices"
	"testing"
)

func TestJoinOffsets(t *testing.T) {
	var o joinOffsets
	if _, ok := o.get("a"); ok {
		t.Fatal("empty has a")
	}
	o.set("a", 1)
	o.set("b", 2)
	o.set("a", 3) // replaces
	if off, ok := o.get("a"); !ok || off != 3 || len(o) != 2 {
		t.Fatalf("a = %d %v, len %d", off, ok, len(o))
	}
	o.set("c", 4)
	o.del("b")
	o.del("missing")
	var rooms []string
	for _, e := range o {
		rooms = append(rooms, e.room)
	}
	if !slices.Equal(rooms, []string{"a", "c"}) {
		t.Fatalf("rooms %v", rooms)
	}
	o.keepOnly(func(r string) bool { return r == "c" })
	if off, ok := o.get("c"); !ok || off != 4 || len(o) != 1 {
		t.Fatalf("after keepOnly: %v", o)
	}
	o.keepOnly(func(string) bool { return false })
	if len(o) != 0 {
		t.Fatalf("not emptied: %v", o)
	}
}
