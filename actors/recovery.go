package actors

import (
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/transport/socketio"
)

// The connection actor's side of connection state recovery (docs/PROTOCOL.md "Connection state recovery"):
//
//  1. A connection that ends for a recoverable reason hands its session
//     (ids, owner, rooms with their join offsets) to a detached-session
//     actor under its workspace (detach), which keeps it for the window.
//  2. A CONNECT with a pid, once admitted by its ip limiter, asks that
//     session (askSession). The session answers only the same sub and
//     workspaceId (else: denied, and it stays for its owner).
//  3. The connection re-checks each room against its new claims and rejoins
//     the rooms muted (gatedOutbox): the rooms' broadcasts go to history
//     only.
//  4. Once every join is confirmed, under the sequencer lock: the CONNECT
//     answer with the session's sid and pid, every kept broadcast after
//     the client's offset in offset order, and the gates open. No gap and
//     no duplicate at the seam, and nothing newer before the replay.
//
// Anything else gives the client a fresh session, never an error.

// askSession starts a recovery; false means there is nothing to ask (the
// result is recorded) and the client gets a fresh session.
func (a *connectionActor) askSession(ctx actor.Context) bool {
	var from uint64
	if a.resume.HasOffset {
		off, err := offsetOf(a.resume.Offset)
		if err != nil {
			a.recorded(recoveryUnknown) // not an offset this gateway gave
			return false
		}
		from = off
	}
	session, ok := a.d.sessions.find(a.resume.PID)
	if !ok {
		if a.askCluster(ctx, from) { // clustered: another node's, or one that died
			return true
		}
		result := recoveryUnknown
		if a.d.sessions.wasExpired(a.resume.PID) {
			result = recoveryExpired
		}
		a.recorded(result)
		return false
	}
	a.state = connResuming
	self, root := ctx.Self(), a.d.root
	a.recovery = &recoveryState{session: session, from: from,
		timer: time.AfterFunc(askTimeout, func() { root.Send(self, &recoveryTimeout{}) })}
	ctx.Watch(session) // a session that stops before it answers
	ctx.Send(session, &takeSession{sub: a.claims.Subject, workspaceID: a.claims.WorkspaceID, conn: self})
	return true
}

// onSessionTaken checks the kept history, then rejoins the session's rooms
// muted.
func (a *connectionActor) onSessionTaken(ctx actor.Context, m *sessionTaken) {
	r := a.recovery
	if r == nil || r.rec != nil {
		return
	}
	r.rec = m.rec
	ctx.Unwatch(r.session)
	if a.readLocalHistory(ctx, m.rec) {
		return // clustered: rejoined once the stream's history is read
	}
	if !a.d.history.reachesBack(m.rec.rooms, r.from) {
		a.recoveryFailed(ctx, recoveryTooOld)
		return
	}
	a.rejoin(ctx, m.rec)
}

// rejoin re-checks the session's rooms against the new claims and rejoins
// them muted.
func (a *connectionActor) rejoin(ctx actor.Context, rec *sessionRecord) {
	r := a.recovery
	r.rec = rec
	r.rooms = make(map[string]uint64, len(rec.rooms))
	r.gates = make(map[string]*gatedOutbox, len(rec.rooms))
	for name, joinedAt := range rec.rooms {
		room, err := security.ParseRoom(name)
		if err != nil || security.CanJoin(a.claims, room) != nil {
			r.denied = append(r.denied, name)
			continue
		}
		r.rooms[name] = joinedAt
		r.gates[name] = &gatedOutbox{out: a.conn}
		a.joinedAt.set(name, joinedAt) // the session's: its history reaches back there
	}
	if len(r.gates) == 0 { // every room was revoked
		a.roomsRejoined(ctx)
		return
	}
	r.waiting = len(r.gates)
	for name, gate := range r.gates {
		ctx.Send(a.d.gateway, &messages.JoinRoom{Room: name, Conn: ctx.Self(), Out: gate, AckID: socketio.NoAck, User: a.claims.Subject, SID: rec.sid})
	}
}

// finishRecovery answers the CONNECT and replays, under the sequencer lock.
func (a *connectionActor) finishRecovery(ctx actor.Context) {
	r := a.recovery
	a.recovery = nil
	r.timer.Stop()
	h := a.d.history
	user := security.UserRoom(a.claims.Subject)
	h.mu.Lock()
	ok := r.clustered || h.reachesBackLocked(r.rooms, r.from)
	if ok {
		a.conn.Accepted(r.rec.sid, r.rec.pid)
		var frames [][]byte
		if r.clustered {
			frames = a.replayClusteredLocked(r)
		} else {
			frames = h.missedLocked(r.rooms, r.from, r.rec.sid)
		}
		for _, frame := range frames {
			a.conn.Enqueue(frame)
		}
		for _, g := range r.gates {
			g.open = true
		}
	} else {
		// Dropped while the rooms were rejoined: a fresh session, which
		// keeps its user room only, from now on.
		a.pid = newPID()
		a.conn.Accepted(a.sid, a.pid)
		a.openUserRoomLocked(ctx, r)
	}
	h.mu.Unlock()
	if r.session != nil {
		ctx.Send(r.session, &sessionDone{}) // its history is held by the rooms now
	}
	if !ok {
		a.leaveAllBut(ctx, user)
		a.recorded(recoveryTooOld)
		a.activate(ctx)
		return
	}
	a.d.conns.CompareAndDelete(a.sid, ctx.Self())
	a.sid, a.pid, a.log = r.rec.sid, r.rec.pid, nil
	a.d.conns.Store(a.sid, ctx.Self())
	for _, name := range r.denied {
		a.emit("error", (&messages.Error{Code: messages.CodeAccessDenied, Room: name}).EventBody())
	}
	a.recorded(recoveryRecovered)
	a.activate(ctx)
	if a.d.mirror != nil && r.clustered { // this node is the record's writer now
		a.d.mirror.put(a.pid, a.record(), true, true)
	}
}

// recoveryFailed gives the client a fresh session; the rooms a taken
// session rejoined (only on a late failure) are left.
func (a *connectionActor) recoveryFailed(ctx actor.Context, result string) {
	r := a.recovery
	a.recovery = nil
	r.timer.Stop()
	switch {
	case r.session == nil:
	case r.rec != nil:
		ctx.Send(r.session, &sessionDone{})
	default:
		ctx.Unwatch(r.session)
	}
	a.recorded(result)
	if len(r.gates) == 0 {
		a.joinedAt.keepOnly(func(string) bool { return false })
		a.acceptFresh(ctx)
		return
	}
	// Rooms were being rejoined muted: keep the user room, open it with the
	// answer under the sequencer lock, leave the others.
	user := security.UserRoom(a.claims.Subject)
	a.d.history.mu.Lock()
	a.pid = newPID()
	a.conn.Accepted(a.sid, a.pid)
	a.openUserRoomLocked(ctx, r)
	a.d.history.mu.Unlock()
	for name := range r.gates {
		if _, joined := a.rooms[name]; !joined && name != user {
			a.leaveOnJoin = append(a.leaveOnJoin, name) // its join is still on its way
		}
	}
	a.leaveAllBut(ctx, user)
	a.activate(ctx)
}

// leftOnJoin reports whether a join that just arrived belongs to a recovery
// that failed: the room is left at once.
func (a *connectionActor) leftOnJoin(ctx actor.Context, m *messages.RoomJoined) bool {
	i := slices.Index(a.leaveOnJoin, m.Room)
	if i < 0 {
		return false
	}
	a.leaveOnJoin = slices.Delete(a.leaveOnJoin, i, i+1)
	ctx.Send(m.PID, &messages.LeaveRoom{Room: m.Room, Conn: ctx.Self(), AckID: socketio.NoAck})
	return true
}

// openUserRoomLocked gives a recovery that fell back to a fresh session its
// user room from now on: the muted rejoin's gate opened, or else (the old
// session had left it) a plain join. Under history.mu.
func (a *connectionActor) openUserRoomLocked(ctx actor.Context, r *recoveryState) {
	user := security.UserRoom(a.claims.Subject)
	if g := r.gates[user]; g != nil {
		g.open = true
		a.joinedAt.set(user, a.d.history.last)
		return
	}
	a.joinedAt.del(user)
	ctx.Send(a.d.gateway, &messages.JoinRoom{Room: user, Conn: ctx.Self(), Out: a.conn, AckID: socketio.NoAck, User: a.claims.Subject, SID: a.sid})
}

// leaveAllBut leaves every joined room but keep, and forgets the join
// offsets of rooms being rejoined.
func (a *connectionActor) leaveAllBut(ctx actor.Context, keep string) {
	for name, pid := range a.rooms {
		if name != keep {
			ctx.Send(pid, &messages.LeaveRoom{Room: name, Conn: ctx.Self(), AckID: socketio.NoAck})
		}
	}
	a.joinedAt.keepOnly(func(name string) bool {
		_, joined := a.rooms[name]
		return joined || name == keep
	})
}

// recorded counts and logs one recovery attempt. Never the pid.
func (a *connectionActor) recorded(result string) {
	a.d.metrics.recoveries.WithLabelValues(result).Inc()
	a.d.log.Info("session recovery", "result", result, "sid", a.sid, "user_id", a.claims.Subject, "workspace", a.claims.WorkspaceID)
}

// detach hands the session to a detached-session actor when it ended for a
// recoverable reason. Its rooms' history is retained here, synchronously,
// before the rooms learn the connection ended; the session releases it.
func (a *connectionActor) detach(reason messages.CloseReason) {
	if a.d.history == nil || a.state != connActive {
		return
	}
	inBucket := false
	if a.d.mirror != nil { // clustered: the bucket keeps it for any node
		if reason.Recoverable() {
			inBucket = a.d.mirror.put(a.pid, a.record(), false, false)
		} else {
			a.d.mirror.forget(a.pid)
		}
	}
	if !reason.Recoverable() || a.d.shuttingDown.Load() {
		return
	}
	rec := &sessionRecord{pid: a.pid, sid: a.sid, sub: a.claims.Subject, workspaceID: a.claims.WorkspaceID,
		rooms: make(map[string]uint64, len(a.rooms)), inBucket: inBucket}
	for name := range a.rooms {
		rec.rooms[name], _ = a.joinedAt.get(name)
	}
	a.d.history.retain(rec.roomNames()...)
	a.d.detached.Store(rec.sid, rec) // before the rooms hear it ended: they keep it present
	a.d.root.Send(a.d.gateway, &detachSession{rec: rec})
}
