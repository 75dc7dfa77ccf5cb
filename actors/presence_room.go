package actors

import (
	"encoding/json"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/transport/cluster"
	"github.com/hyvve/gateway/transport/socketio"
)

// A room's side of presence (docs/PROTOCOL.md "Presence"). Each room keeps
// its presenceSet in its roomState (so a restart keeps it). On one node it
// costs a map update per join and leave and nothing per broadcast.
// Clustered, each room tells the other nodes hosting it its per-user session
// counts on the room's own subject, so every hosting node holds the whole
// picture and answers a query at once:
//
//	"\x00p"   {"u":user,"n":sessions}   one user's count here changed
//	"\x00p?"  {user: sessions, …}       a room started here: this is mine, send yours
//	"\x00p="  {user: sessions, …}       my whole count, answering "\x00p?"
//
// A node that is gone (goodbye, or silent: cluster.Node.OnPeerGone) keeps
// its users present for RECOVERY_WINDOW, as its kept sessions would, and
// then they leave unless they are present elsewhere.

const (
	presenceDelta   = "\x00p"
	presenceRequest = "\x00p?"
	presenceFull    = "\x00p="
)

// presenceSyncWait bounds how long a room that just started waits for the
// counts of the other nodes hosting it before answering queries.
const presenceSyncWait = 500 * time.Millisecond

// presenceQuery asks a room who is present (routed like JoinRoom, but
// without spawning the room on a single node). The answer goes straight to
// the asking client's queue as its ack, or to reply.
type presenceQuery struct {
	room  string
	out   messages.Outbox
	ackID int64
	reply chan<- json.RawMessage // buffered; the HTTP API's
	// spawn: clustered, and other nodes host the room: a room is started
	// here to learn their counts.
	spawn bool
}

// presenceSpawns reports whether routing m may start its room.
func presenceSpawns(m any) bool {
	q, ok := m.(*presenceQuery)
	return ok && q.spawn
}

// newPresenceQuery is a query for room; clustered, it starts the room here
// when other nodes host it.
func (d *deps) newPresenceQuery(room string) *presenceQuery {
	return &presenceQuery{room: room, ackID: socketio.NoAck, spawn: d.cluster != nil && len(d.cluster.Hosts(room)) > 0}
}

// answer sends body to whoever asked.
func (q *presenceQuery) answer(body json.RawMessage) {
	if q.reply != nil {
		q.reply <- body
		return
	}
	if q.out != nil && q.ackID != socketio.NoAck {
		q.out.Enqueue(socketio.AppendAck(nil, q.ackID, body))
	}
}

// presenceGone tells a room a kept session ended: its window ran out, or it
// was recovered and is done (detached session → gateway → room).
type presenceGone struct {
	room, sid string
	token     any
}

// peerGone tells a room a node is gone (cluster → room).
type peerGone struct{ node string }

// presenceNodeExpired comes from a room's timer: a gone node's window ended.
type presenceNodeExpired struct {
	node string
	gen  uint64
}

// presenceSynced comes from a room's timer: stop waiting for the other
// nodes' counts.
type presenceSynced struct{ gen uint64 }

// presenceSync is a room's wait for the counts of the other hosting nodes.
type presenceSync struct {
	waiting map[string]bool
	queries []*presenceQuery
	gen     uint64
}

// notifies reports whether the room's members get presence events: the
// workspace rooms, never user:{sub}.
func (r *roomActor) notifies() bool {
	_, ok := roomWorkspace(r.name)
	return ok
}

// presenceJoined counts a member that joined.
func (r *roomActor) presenceJoined(m member) {
	if r.presence.join(m.user, m.sid) {
		r.presenceEvent("presence_join", m.user)
	}
	r.presenceTell(m.user)
}

// presenceLeft uncounts a member that left or ended; a member that ended
// for a recoverable reason (its session is being kept, deps.detached) is
// kept present until its session is dropped.
func (r *roomActor) presenceLeft(m member, ended bool) {
	if ended && m.sid != "" {
		if token, ok := r.deps.detached.Load(m.sid); ok {
			r.presence.keep(m.user, m.sid, token)
			r.armKeptSweep()
			return
		}
	}
	if r.presence.leave(m.user) {
		r.presenceEvent("presence_leave", m.user)
	}
	r.presenceTell(m.user)
}

// keptSweepMargin is how long past RECOVERY_WINDOW a kept session may stay
// without word from its session before the room drops it by itself.
const keptSweepMargin = 5 * time.Second

// keptSweep comes from a room's own timer: drop the keeps past their window.
type keptSweep struct{}

// armKeptSweep arms the room's sweep of stale keeps, once.
func (r *roomActor) armKeptSweep() {
	if r.sweep != nil {
		return
	}
	self, root := r.self, r.deps.root
	r.sweep = time.AfterFunc(r.deps.cfg.RecoveryWindow+keptSweepMargin, func() { root.Send(self, &keptSweep{}) })
}

// onKeptSweep drops the keeps older than the window and its margin: their
// session's word that it ended never came.
func (r *roomActor) onKeptSweep(ctx actor.Context) {
	r.sweep = nil
	sids, tokens := r.presence.keptBefore(time.Now().Add(-r.deps.cfg.RecoveryWindow - keptSweepMargin))
	for i := range sids {
		r.onPresenceGone(ctx, &presenceGone{sid: sids[i], token: tokens[i]})
	}
	if r.presence.keptLen() > 0 {
		r.armKeptSweep()
	}
}

// onPresenceGone drops a kept session.
func (r *roomActor) onPresenceGone(ctx actor.Context, m *presenceGone) {
	user, gone := r.presence.drop(m.sid, m.token)
	if user == "" {
		return
	}
	if gone {
		r.presenceEvent("presence_leave", user)
	}
	r.presenceTell(user)
	r.maybeIdle(ctx)
}

// presenceEvent sends presence_join or presence_leave about user to every
// member but the user's own connections. No offset, not kept for replay.
func (r *roomActor) presenceEvent(event, user string) {
	if !r.notifies() {
		return
	}
	var frame []byte
	for _, mb := range r.members.list {
		if mb.user == user {
			continue
		}
		if frame == nil {
			frame = socketio.AppendEvent(nil, event, presenceEventBody(r.name, user))
		}
		mb.out.Enqueue(frame)
	}
	r.deps.metrics.presenceEvents.WithLabelValues(event).Inc()
}

// presenceTell tells the other nodes hosting the room this node's count of
// user's sessions. A draining node says nothing: the others treat it as
// gone, which keeps its users for their recovery window.
func (r *roomActor) presenceTell(user string) {
	if r.deps.cluster == nil || r.deps.shuttingDown.Load() {
		return
	}
	body, _ := json.Marshal(struct {
		U string `json:"u"`
		N int    `json:"n"`
	}{user, r.presence.local[user]})
	if err := r.deps.cluster.Broadcast(r.name, presenceDelta, body); err != nil {
		r.deps.log.Debug("presence not told to the cluster", "room", r.name, "err", err)
	}
}

// presenceStarted registers a clustered room for peerGone and asks the
// other hosting nodes for their counts.
func (r *roomActor) presenceStarted(ctx actor.Context) {
	if r.deps.cluster == nil || r.unsubscribe == nil {
		return
	}
	r.deps.presenceRooms.Store(r.name, ctx.Self())
	if r.sync != nil {
		return
	}
	hosts := r.deps.cluster.Hosts(r.name)
	if len(hosts) == 0 {
		return
	}
	r.syncGen++
	r.sync = &presenceSync{waiting: map[string]bool{}, gen: r.syncGen}
	for _, h := range hosts {
		r.sync.waiting[h] = true
	}
	gen, self, root := r.syncGen, ctx.Self(), r.deps.root
	time.AfterFunc(presenceSyncWait, func() { root.Send(self, &presenceSynced{gen: gen}) })
	body, _ := json.Marshal(r.presence.local)
	if err := r.deps.cluster.Broadcast(r.name, presenceRequest, body); err != nil {
		r.synced()
	}
}

// onPresenceQuery answers a query, once the room knows the other nodes'
// counts.
func (r *roomActor) onPresenceQuery(m *presenceQuery) {
	if r.sync != nil {
		r.sync.queries = append(r.sync.queries, m)
		return
	}
	m.answer(presenceBody(r.name, r.presence.present(), r.deps.cfg.PresenceMaxUsers))
}

// synced ends the wait for the other nodes and answers the queries it held.
func (r *roomActor) synced() {
	s := r.sync
	if s == nil {
		return
	}
	r.sync = nil
	for _, q := range s.queries {
		r.onPresenceQuery(q)
	}
}

// onPresenceDelivery applies another node's presence message.
func (r *roomActor) onPresenceDelivery(d *cluster.Delivery) {
	if r.dying != nil {
		delete(r.dying, d.Origin) // it is back
	}
	switch d.Event {
	case presenceDelta:
		var m struct {
			U string `json:"u"`
			N int    `json:"n"`
		}
		if json.Unmarshal(d.Data, &m) != nil || m.U == "" {
			return
		}
		joined, left := r.presence.setRemote(d.Origin, m.U, m.N)
		if joined {
			r.presenceEvent("presence_join", m.U)
		} else if left {
			r.presenceEvent("presence_leave", m.U)
		}
	case presenceRequest, presenceFull:
		var users map[string]int
		if json.Unmarshal(d.Data, &users) != nil {
			return
		}
		r.applyRemote(d.Origin, users)
		if d.Event == presenceRequest && !r.deps.shuttingDown.Load() {
			body, _ := json.Marshal(r.presence.local)
			_ = r.deps.cluster.Broadcast(r.name, presenceFull, body)
		}
		if r.sync != nil && r.sync.waiting[d.Origin] {
			delete(r.sync.waiting, d.Origin)
			if len(r.sync.waiting) == 0 {
				r.synced()
			}
		}
	}
}

// applyRemote replaces node's whole count (nil: gone) and tells the members.
func (r *roomActor) applyRemote(node string, users map[string]int) {
	joined, left := r.presence.replaceRemote(node, users)
	for _, u := range joined {
		r.presenceEvent("presence_join", u)
	}
	for _, u := range left {
		r.presenceEvent("presence_leave", u)
	}
}

// onPeerGone keeps a gone node's users for the recovery window.
func (r *roomActor) onPeerGone(ctx actor.Context, m *peerGone) {
	if r.sync != nil && r.sync.waiting[m.node] {
		delete(r.sync.waiting, m.node)
		if len(r.sync.waiting) == 0 {
			r.synced()
		}
	}
	if _, ok := r.presence.remote[m.node]; !ok {
		return
	}
	if r.dying == nil {
		r.dying = map[string]uint64{}
	}
	r.syncGen++
	gen := r.syncGen
	r.dying[m.node] = gen
	window := r.deps.cfg.RecoveryWindow
	if window < 0 {
		window = 0
	}
	self, root, node := ctx.Self(), r.deps.root, m.node
	time.AfterFunc(window, func() { root.Send(self, &presenceNodeExpired{node: node, gen: gen}) })
}

func (r *roomActor) onPresenceNodeExpired(m *presenceNodeExpired) {
	if r.dying[m.node] != m.gen {
		return
	}
	delete(r.dying, m.node)
	r.applyRemote(m.node, nil)
}

// presenceOnPeerGone hands the cluster's peer-gone news to every clustered
// room (called on a cluster goroutine).
func (d *deps) presenceOnPeerGone(node string) {
	d.presenceRooms.Range(func(_, v any) bool {
		d.root.Send(v.(*actor.PID), &peerGone{node: node})
		return true
	})
}

// presenceGoneRooms tells the rooms of a kept session that ended that it is
// gone (session actor, at Stopped).
func (d *deps) presenceGoneRooms(rec *sessionRecord) {
	for name := range rec.rooms {
		d.root.Send(d.gateway, &presenceGone{room: name, sid: rec.sid, token: rec})
	}
}

// presenceRoom is the room a presence message by room name (gateway → workspace
// or users), as roomWorkspace does.
func presenceRoom(m any) string {
	switch m := m.(type) {
	case *presenceQuery:
		return m.room
	case *presenceGone:
		return m.room
	}
	return ""
}

// noPresence answers a query for a room that has no actor here.
func noPresence(d *deps, m any) {
	if q, ok := m.(*presenceQuery); ok {
		q.answer(presenceBody(q.room, nil, d.cfg.PresenceMaxUsers))
	}
}

// presence answers the client event presence: the same rules as join_room.
func (a *connectionActor) presence(ctx actor.Context, data json.RawMessage, ackID int64) error {
	name, err := a.joinableRoom(data)
	if err != nil {
		return err
	}
	q := a.d.newPresenceQuery(name)
	q.out, q.ackID = a.conn, ackID
	ctx.Send(a.d.gateway, q)
	return nil
}
