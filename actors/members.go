package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/messages"
)

// member is one connection in a room: its PID (watched) and its queue.
type member struct {
	pid       *actor.PID
	out       messages.Outbox
	user, sid string // its presence (presence.go)
}

// memberSet is a room's membership: a slice, which the fan-out loop walks,
// and an index by connection pid.Id once the room outgrows a linear scan.
// Most rooms are a user's room with one or two tabs, where a Go map would
// spend a whole 8-slot group per room.
type memberSet struct {
	list  []member
	index map[string]int // pid.Id → position in list; nil while the room is small
}

// smallRoom is the size up to which members are found by a linear scan.
const smallRoom = 8

func (s *memberSet) len() int { return len(s.list) }

func (s *memberSet) find(id string) int {
	if s.index != nil {
		if i, ok := s.index[id]; ok {
			return i
		}
		return -1
	}
	for i := range s.list {
		if s.list[i].pid.Id == id {
			return i
		}
	}
	return -1
}

func (s *memberSet) has(id string) bool { return s.find(id) >= 0 }

// get returns the member with connection id.
func (s *memberSet) get(id string) (member, bool) {
	if i := s.find(id); i >= 0 {
		return s.list[i], true
	}
	return member{}, false
}

// add adds m unless its connection is already a member; it reports whether
// it did.
func (s *memberSet) add(m member) bool {
	if s.has(m.pid.Id) {
		return false
	}
	s.list = append(s.list, m)
	switch {
	case s.index != nil:
		s.index[m.pid.Id] = len(s.list) - 1
	case len(s.list) > smallRoom:
		s.index = make(map[string]int, 2*len(s.list))
		for i, x := range s.list {
			s.index[x.pid.Id] = i
		}
	}
	return true
}

// remove removes the member with connection id; it reports whether there
// was one. The last member takes its place.
func (s *memberSet) remove(id string) bool {
	i := s.find(id)
	if i < 0 {
		return false
	}
	last := len(s.list) - 1
	if i != last {
		s.list[i] = s.list[last]
		if s.index != nil {
			s.index[s.list[i].pid.Id] = i
		}
	}
	s.list[last] = member{}
	s.list = s.list[:last]
	if s.index != nil {
		delete(s.index, id)
		if len(s.list) <= smallRoom/2 { // hysteresis: no rebuild on every join and leave at the edge
			s.index = nil
		}
	}
	if cap(s.list) > 4*smallRoom && len(s.list) < cap(s.list)/4 {
		s.list = append([]member(nil), s.list...) // an emptied big room gives its array back
	}
	return true
}
