// Package actors is the gateway's actor tree on protoactor-go:
//
//	gateway                      root, guardian-supervised; routes by workspace and room
//	├── ips                      per-IP limiters
//	│   └── ip:{addr}            Watches the connections it admitted
//	├── users                    user rooms
//	│   └── room:user:{sub}
//	└── workspace:{id}           spawned on first use, stopped when it holds nothing
//	    ├── conn:{sid}           one per socket
//	    │   └── limiter          that connection's message rate limiter
//	    ├── session:{n}          a detached session kept for RECOVERY_WINDOW
//	    └── room:workspace:{id}:{channel}
//
// Who may message whom:
//   - From outside (System): Send to the gateway only. Accept, Publish and
//     InjectFault wait for an answer on a buffered channel with a timeout;
//     nothing else waits.
//   - gateway → ips, users, workspaces: routed requests (spawnConnection,
//     admitConnection, JoinRoom, Publish, InjectFault).
//   - workspace/users → rooms: JoinRoom, Publish. A parent alone routes to its
//     lazily spawned children, which is what makes their idle stop safe
//     (lazyChildren).
//   - transport → limiter → connection: every client event. The transport
//     hands it to the connection's rate limiter (spawned at the
//     connection's init, so it exists once the spawn returns), which passes
//     it on as EventAllowed or EventRateLimited. No request/response.
//   - connection → gateway: admitConnection, JoinRoom (a room it is not in
//     yet), Publish (state_sync, dashboard_action to a room it is not in).
//   - connection → room, straight to a room it is in: LeaveRoom, and
//     Publish with Direct set (a relay); a room with a member is not
//     stopping idle, and its parent does not count what it did not route.
//     A leave of a room it is not in yet (its join still on its way) goes
//     the join's way (LeaveRoom with Routed set), so it reaches the room
//     after the join; a parent with no such room answers RoomLeft itself.
//   - room → connection: RoomJoined, RoomLeft. A room's broadcast frames do
//     not go through the connection's mailbox: the room hands the frame,
//     encoded once, straight to each member's outbound queue
//     (messages.Outbox), whose Enqueue never blocks.
//   - ip limiter → connection: ConnectionAdmitted or ConnectionRefused.
//   - Recovery (recovery.go, session.go, history.go): a connection ending for
//     a recoverable reason → gateway → workspace: detachSession, which
//     spawns the session actor (routed, so a workspace's idle report that
//     crossed it is stale). A recovering connection → session (found by pid
//     in deps.sessions): takeSession; session → connection: sessionTaken or
//     sessionRefused; connection → session: sessionDone. The connection
//     Watches the session until it answers; a taken session Watches the
//     connection. No request/response futures.
//   - The sequencer: with recovery on, a room's fan-out (and a recovery's
//     CONNECT answer, replay and unmuting) runs under history.mu, the one
//     lock on the broadcast path, never held across a blocking call.
//   - Presence (presence.go, presence_room.go): a connection → gateway →
//     workspace/users → room: presenceQuery, answered by the room straight
//     to the asker's queue (or reply channel); a detached session, at
//     Stopped → gateway → room: presenceGone. A connection ending
//     recoverably marks its sid in deps.detached before its rooms hear of
//     it, so they keep it present. Clustered, rooms tell each other their
//     per-user counts on the room's subject (Delivery events starting with
//     NUL), and cluster → room: peerGone (deps.presenceRooms).
//   - cluster (NATS goroutine) → room: *cluster.Delivery, by Send only; the
//     room fans it out and reports its count through Delivery.Reply. A room
//     holds its cluster subscription from its first Started to Stopped.
//
// A message an actor fails on is lost (protoactor drops it); the
// answerOnFailure middleware first answers its waiting caller, so a
// publisher or a connecting client hears of it at once.
//
// No actor uses RequestFuture. Teardown is by lifecycle only: rooms and ip
// limiters Watch the connections they hold and drop them on Terminated;
// parents count their lazily spawned children on spawn and Terminated; a
// connection's gauge moves at admission and at Stopped; a detached session
// stops itself when its window ends, and its gauge and registry entry go
// at its Started and Stopped.
package actors
