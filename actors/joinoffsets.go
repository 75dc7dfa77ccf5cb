package actors

// joinOffsets holds the offset each of a connection's rooms was joined at,
// so a recovery replays nothing from before a join. A connection is in a
// handful of rooms: a slice costs a fraction of a map per connection.
type joinOffsets []joinOffset

type joinOffset struct {
	room string
	off  uint64
}

// get returns room's join offset.
func (o joinOffsets) get(room string) (uint64, bool) {
	for _, e := range o {
		if e.room == room {
			return e.off, true
		}
	}
	return 0, false
}

// set records room's join offset, replacing one already kept.
func (o *joinOffsets) set(room string, off uint64) {
	for i := range *o {
		if (*o)[i].room == room {
			(*o)[i].off = off
			return
		}
	}
	*o = append(*o, joinOffset{room, off})
}

// del forgets room's join offset.
func (o *joinOffsets) del(room string) {
	o.keepOnly(func(r string) bool { return r != room })
}

// keepOnly forgets the join offsets of the rooms keep refuses.
func (o *joinOffsets) keepOnly(keep func(room string) bool) {
	kept := (*o)[:0]
	for _, e := range *o {
		if keep(e.room) {
			kept = append(kept, e)
		}
	}
	clear((*o)[len(kept):])
	*o = kept
}
